"""Tasks async code spawns: one that ends before its operation is part of the
operation; one that outlives it (a background fill) runs as the client's
background actor ``cN.bg``, scheduled like any actor, drained by settle, killed
with its process; undeclared, it stops the run with one error."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from cacherace.contrib.async_cache_aside import AsyncCacheAside, or_default
from cacherace.errors import HarnessError
from cacherace.explore import apply as schedule
from cacherace.explore.cell import Budget, explore_strategy
from cacherace.model.history import Complete, Fault, Step, Wait
from cacherace.properties import check
from tests.engine.conftest import MakeScheduler


class BackgroundFill(AsyncCacheAside):
    """Cache-aside whose read answers from the database at once and leaves the
    cache fill to a task of its own (``asyncio.create_task``, not awaited)."""

    name: ClassVar[str] = "background-fill"
    background: ClassVar[bool] = True
    claims: ClassVar[tuple[str, ...]] = ("converges",)

    async def read(self, key: str) -> str | None:  # type: ignore[override]
        ck = self.settings.cache_key(key)
        cached: Any = await or_default(self.redis.get(ck), None)
        if cached is not None:
            return str(cached)
        cur = await self.db.execute(f"SELECT value FROM {self.settings.table} WHERE key = %s",
                                    (key,))  # fmt: skip
        row = await cur.fetchone()
        value = None if row is None else row[0]
        if value is not None:
            fill = self.redis.set(ck, value, ex=self.settings.ttl)
            self.tasks = {asyncio.get_running_loop().create_task(fill)}  # keeps a reference
        return value


class Undeclared(BackgroundFill):
    name: ClassVar[str] = "undeclared-fill"
    background: ClassVar[bool] = False


class AwaitedTask(AsyncCacheAside):
    """A task spawned and awaited inside the operation (cashews' thunder protection)."""

    name: ClassVar[str] = "awaited-task"

    async def read(self, key: str) -> str | None:  # type: ignore[override]
        task = asyncio.get_running_loop().create_task(self.redis.get("x"))
        await self.redis.get("y")
        return str(await task)


def start(p: str, f: str, value: str | None = None) -> dict[str, Any]:
    a = {"do": "start", "process": p, "f": f, "key": "k1"}
    return a if value is None else {**a, "value": value}


def step(p: str) -> dict[str, Any]:
    return {"do": "step", "process": p}


def finish(p: str) -> dict[str, Any]:
    return {"do": "finish", "process": p}


#: c0's read returns k1.0 and leaves its fill; c1's write commits and deletes; the
#: fill then stores the old value: the stale set, with the SET in c0.bg's lane
STALE_FILL = [start("c0", "read"), finish("c0"), start("c1", "write", "k1.1"), finish("c1"),
              start("c0.bg", "c0.bg"), finish("c0.bg")]  # fmt: skip


def _steps(h: Any) -> list[tuple[str, str]]:
    return [(e.process, e.command.split()[0]) for e in h.events if isinstance(e, Step)]


def test_a_task_awaited_inside_the_operation_is_part_of_it(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(AwaitedTask, clients=1)
    assert s.actors == ()  # no background declared: no background actor
    h = schedule.run(s, [start("c0", "read"), finish("c0")])
    steps = [e for e in h.events if isinstance(e, Step)]
    assert [(e.process, e.op, e.command) for e in steps] == [("c0", 0, "GET y"), ("c0", 0, "GET x")]
    [done] = [e for e in h.events if isinstance(e, Complete)]
    assert done.index > steps[-1].index  # the task's step came before the operation ended


def test_the_left_task_runs_as_the_background_actor(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(BackgroundFill)
    assert s.actors == ("c0.bg", "c1.bg") and s.clients == ("c0", "c1")
    h = schedule.run(s, STALE_FILL)
    assert _steps(h) == [("c0", "GET"), ("c0", "SELECT"), ("c1", "INSERT"), ("c1", "DEL"),
                         ("c0.bg", "SET")]  # fmt: skip
    ops = [(e.process, e.f, e.value) for e in h.events if isinstance(e, Complete)]
    assert ops[:3] == [("c0", "read", "k1.0"), ("c1", "write", None), ("c0.bg", "c0.bg", "1")]
    verdict = check("converges", h)
    assert verdict.broken and "k1.0" in verdict.reason


def test_settle_drains_the_background_work(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(BackgroundFill)
    h = schedule.run(s, [start("c0", "read"), finish("c0")])
    assert _steps(h) == [("c0", "GET"), ("c0", "SELECT"), ("c0.bg", "SET")]
    assert h.events[-1].cache == {"k1": "k1.0"}  # type: ignore[attr-defined]


def test_a_background_run_with_nothing_left_does_nothing(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(BackgroundFill)
    h = schedule.run(s, [start("c0.bg", "c0.bg"), finish("c0.bg")])
    assert _steps(h) == []
    ends = [(e.process, e.value) for e in h.events if isinstance(e, Complete)]
    assert ends[0] == ("c0.bg", "0") and {v for _, v in ends} == {"0"}  # settle's drain too


def test_the_next_operation_waits_for_the_background_run(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(BackgroundFill)
    actions = [start("c0", "read"), finish("c0"), start("c0.bg", "c0.bg"), start("c0", "read")]
    schedule.run(s, actions[:-1])  # warm: the same schedule twice must agree
    s.reset()
    for a in actions:
        schedule.apply(s, a)
    assert s.processes["c0.bg"].pending.command.startswith("SET")
    assert s.processes["c0"].pending.command == "wait for its background work (c0.bg) to end"
    assert not s.step("c0")  # its step does nothing while the background runs
    s.run_to_end("c0")
    h = s.history
    assert _steps(h)[2:] == [("c0.bg", "SET"), ("c0", "GET")]  # the fill, then the hit
    [wait] = [e for e in h.events if isinstance(e, Wait)]
    assert (wait.process, wait.on, wait.ended) == ("c0", ("c0.bg",), True)


@pytest.mark.parametrize("who", ["c0", "c0.bg"])
def test_a_crash_kills_the_process_and_its_background(make_scheduler: MakeScheduler,
                                                      who: str) -> None:  # fmt: skip
    # c0.bg is parked at its fill; c0's next read waits for it (both in flight)
    s = make_scheduler(BackgroundFill)
    actions = [start("c0", "read"), finish("c0"), start("c0.bg", "c0.bg"), start("c0", "read"),
               {"do": "client-crash", "process": who}]  # fmt: skip
    h = schedule.run(s, actions)
    assert [e.process for e in h.events if isinstance(e, Fault)] == [who]
    c0 = [e for e in h.events if isinstance(e, Complete) and e.process == "c0"]
    assert (c0[1].type.value, c0[1].error) == ("info", "client crashed")
    assert ("c0.bg", "SET") not in _steps(h)  # the fill died before its step
    bg = [e for e in h.events if isinstance(e, Complete) and e.process == "c0.bg"]
    assert (bg[0].type.value, bg[0].error) == ("info", "client crashed")
    assert h.events[-1].cache == {"k1": None}  # type: ignore[attr-defined]
    again = schedule.run(s, [start("c0", "read"), finish("c0")])  # the process came back
    assert _steps(again) == [("c0", "GET"), ("c0", "SELECT"), ("c0.bg", "SET")]


def test_a_task_left_undeclared_stops_the_run(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Undeclared)
    s.reset()
    s.start("c0", "read", "k1")
    with pytest.raises(HarnessError, match=r"leaving 1 task\(s\) running .*background = True"):
        s.run_to_end("c0")


def test_the_explorer_finds_the_stale_background_fill(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(BackgroundFill)
    [r] = explore_strategy(s, BackgroundFill.name, ["converges"], Budget(max_examples=100),
                           tiers=("concurrency",))  # fmt: skip
    assert r.verdict == "broken" and r.broken is not None
    assert ("c0.bg", "SET") in _steps(r.broken.history) or ("c1.bg", "SET") in _steps(
        r.broken.history
    )
