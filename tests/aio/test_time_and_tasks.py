"""Waiting and time in async code: ``asyncio.sleep`` and the loop's clock read
virtual time; tasks an operation spawns are its steps, one at a time; an awaited
event nobody can set is a wait the run reports; tasks left behind do not leak
into the next run (background work that does run: ``test_background.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

from cacherace.contrib.async_cache_aside import AsyncCacheAside
from cacherace.model.history import Complete, Step, TimeAdvance, Wait
from tests.engine.conftest import MakeScheduler


class Sleepy(AsyncCacheAside):
    name: ClassVar[str] = "sleepy"

    async def read(self, key: str) -> str | None:
        loop = asyncio.get_running_loop()
        t0, w0 = loop.time(), time.time()
        await self.redis.get("a")
        await asyncio.sleep(5)
        await self.redis.get("b")
        # a timeout on an event nobody sets: 2 virtual seconds, then it gives up
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=2)
        return f"{loop.time() - t0:g} {time.time() - w0:g}"


class Gathering(AsyncCacheAside):
    name: ClassVar[str] = "gathering"

    async def read(self, key: str) -> str | None:
        a, b = await asyncio.gather(self.redis.incr("n"), self.redis.incr("n"))
        return f"{a} {b}"


class FireAndForget(AsyncCacheAside):
    name: ClassVar[str] = "fire-and-forget"
    background: ClassVar[bool] = True  # its refresh runs as the actor c0.bg
    spawned: ClassVar[set[Any]] = set()

    async def read(self, key: str) -> str | None:
        async def refresh() -> None:
            await asyncio.sleep(60)
            await self.redis.set("refreshed", "1")

        self.spawned.add(asyncio.get_running_loop().create_task(refresh()))
        return str(await self.redis.get("x"))


class Forever(AsyncCacheAside):
    name: ClassVar[str] = "forever"

    async def read(self, key: str) -> str | None:
        await self.redis.get("x")
        await asyncio.Event().wait()
        return None


def _events(s: Any, kind: type) -> list[Any]:
    return [e for e in s.history.events if isinstance(e, kind)]


def test_sleeps_and_timeouts_count_in_virtual_time(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Sleepy, clients=1)
    s.reset()
    started = time.perf_counter()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert time.perf_counter() - started < 1.0  # 7 virtual seconds, not real ones
    assert [e.delta for e in _events(s, TimeAdvance)] == [5.0, 2.0]
    assert [(e.command, e.time) for e in _events(s, Step)] == [("GET a", 0.0), ("GET b", 5.0)]
    [done] = _events(s, Complete)
    assert done.value == "7 7"  # the loop's clock and time.time() agree


def test_tasks_of_an_operation_take_their_steps_one_at_a_time(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(Gathering, clients=1)
    s.reset()
    s.admin_redis.delete("n")
    s.start("c0", "read", "k1")
    assert s.processes["c0"].pending.command == "INCRBY n 1"
    s.step("c0")
    assert s.processes["c0"].pending.command == "INCRBY n 1"  # the second task's own step
    s.run_to_end("c0")
    assert [(e.command, e.result) for e in _events(s, Step)] == [
        ("INCRBY n 1", "1"),
        ("INCRBY n 1", "2"),
    ]
    [done] = _events(s, Complete)
    assert done.value == "1 2"


def test_a_task_left_behind_does_not_run_in_the_next_run(make_scheduler: MakeScheduler) -> None:
    # the background actor was never started and the run never settled: the next
    # run begins without the refresh (see test_background.py for the ones that run)
    s = make_scheduler(FireAndForget, clients=1)
    for _ in range(2):
        s.reset()
        s.admin_redis.delete("refreshed")
        s.start("c0", "read", "k1")
        s.run_to_end("c0")
        assert [e.command for e in _events(s, Step)] == ["GET x"]
    s.reset()
    assert all(t.done() for t in FireAndForget.spawned)
    assert s.admin_redis.get("refreshed") is None


def test_an_event_nobody_sets_is_a_wait_the_run_reports(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Forever, clients=1)
    s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    end = s.settle()
    assert not end.settled and "an awaited event no task of its process sets" in end.reason
    [wait] = _events(s, Wait)
    assert (wait.process, wait.ended) == ("c0", False)


class MillisecondTtl(AsyncCacheAside):
    name: ClassVar[str] = "millisecond-ttl"

    async def read(self, key: str) -> str | None:
        # a script's TTL is read back from the server (PTTL) after the step
        await self.redis.eval("redis.call('SET', KEYS[1], 'v', 'PX', 1500)", 1,
                              self.settings.cache_key(key))  # fmt: skip
        return None


def test_a_millisecond_ttl_keeps_its_milliseconds(make_scheduler: MakeScheduler) -> None:
    # the TTL read back is rounded within the real time the step took: a step timed
    # with the virtual clock had a window of hours, and PX 1500 became 2 s
    s = make_scheduler(MillisecondTtl, clients=1)
    s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert s.deadlines.get(s.settings.cache_key("k1")) == 1.5
