"""Spin detection with calls that change nothing and tell nothing (PING, ECHO)
between the repeated ones: cashews' lock loop, SET NX, PING, asyncio.sleep(0);
a spinner takes no step until something changed or time moved; a wait that ended
at the waiter's first call after the lock expired is within its bound."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from cacherace.contrib.async_cache_aside import AsyncCacheAside
from cacherace.engine.drivers.calls import redis_batch_call, redis_call, sql_call
from cacherace.engine.waiting import is_neutral
from cacherace.explore import apply as schedule
from cacherace.model.history import Step, Wait
from cacherace.properties import check
from tests.engine.conftest import MakeScheduler


class PingLock(AsyncCacheAside):
    """Writes under a lock taken as cashews takes it; ``ttl`` on the lock key."""

    name: ClassVar[str] = "ping-lock"
    ttl: ClassVar[int | None] = None

    async def write(self, key: str, value: str) -> None:  # type: ignore[override]
        lock = self.settings.aux_key("lock")
        while not await self.redis.set(lock, "x", nx=True, ex=self.ttl):
            await self.redis.ping()
            await asyncio.sleep(0)
        await super().write(key, value)
        await self.redis.delete(lock)


class PingLockTen(PingLock):
    ttl = 10


def _step(command: str, error: str | None = None) -> Step:
    return Step(0, 0.0, "c0", 0, "redis", command, (), "True", error)


@pytest.mark.parametrize(
    ("call", "error", "neutral"),
    [
        (redis_call(("PING",)), None, True),
        (redis_call(("ECHO", "LOCK")), None, True),
        (redis_call(("PING",)), "ConnectionError: down", False),  # cashews then goes on
        (redis_call(("GET", "k")), None, False),
        (redis_call(("TIME",)), None, False),  # its answer changes
        (redis_batch_call("PIPELINE", [("PING",)]), None, False),
        (sql_call("SELECT 1", None), None, False),
    ],
)
def test_which_calls_are_neutral(call: object, error: str | None, neutral: bool) -> None:
    assert is_neutral(_step(call.command, error), call) is neutral  # type: ignore[attr-defined]


def _lock_steps(s: object, p: str) -> list[Step]:
    return [e for e in s.history.events if isinstance(e, Step)  # type: ignore[attr-defined]
            and e.process == p and e.command.startswith("SET")]  # fmt: skip


def test_a_lock_loop_with_pings_is_a_spin(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(PingLock)
    s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.step("c0")  # c0 holds the lock, parked at its UPSERT
    s.start("c1", "write", "k1", "k1.2")
    for _ in range(10):
        s.step("c1")
    # three SET NX found it held (the third makes it a spin); then its steps do nothing
    assert len(_lock_steps(s, "c1")) == 3 and not s.step("c1")
    s.run_to_end("c1")  # runs c0 first, until the lock is free
    waits = [e for e in s.history.events if isinstance(e, Wait)]
    assert [(w.process, w.on, w.ended) for w in waits] == [("c1", ("c0",), True)]
    assert not s.busy("c0") and not s.busy("c1")


def test_a_crashed_holder_leaves_the_waiter_stuck(make_scheduler: MakeScheduler) -> None:
    actions = [{"do": "start", "process": "c0", "f": "write", "key": "k1", "value": "k1.1"},
               {"do": "step", "process": "c0"}, {"do": "client-crash", "process": "c0"},
               {"do": "start", "process": "c1", "f": "write", "key": "k1", "value": "k1.2"},
               {"do": "finish", "process": "c1"}]  # fmt: skip
    h = schedule.run(make_scheduler(PingLock), actions)
    verdict = check("bounded-wait", h)
    assert verdict.broken and "nothing can release it" in verdict.reason
    assert not h.events[-1].settled  # type: ignore[attr-defined]


def test_a_wait_the_schedule_overshot_stays_within_its_bound(
    make_scheduler: MakeScheduler,
) -> None:
    # the holder is parked; 11 s pass in one advance (the lock's TTL is 10 s); the
    # waiter's first call after that takes the lock: it waited 11 s for a 10 s lock,
    # one second of which the schedule withheld - no violation of the lock's bound
    actions = [{"do": "start", "process": "c0", "f": "write", "key": "k1", "value": "k1.1"},
               {"do": "step", "process": "c0"},
               {"do": "start", "process": "c1", "f": "write", "key": "k1", "value": "k1.2"},
               *[{"do": "step", "process": "c1"}] * 6, {"do": "advance", "seconds": 11.0},
               {"do": "finish", "process": "c1"}]  # fmt: skip
    h = schedule.run(make_scheduler(PingLockTen), actions)
    [wait] = [e for e in h.events if isinstance(e, Wait)]
    assert (wait.process, wait.ended, wait.time - wait.since) == ("c1", True, 11.0)
    assert check("bounded-wait", h).status.value == "holds"
