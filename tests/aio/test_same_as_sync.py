"""The async cache-aside is scheduled exactly as the sync one: the same schedule,
with every kind of fault, gives the same history (targets, commands, results,
faults, outcomes, end state), and does so every time."""

from __future__ import annotations

from typing import Any

import pytest

from cacherace.contrib.async_cache_aside import AsyncCacheAside
from cacherace.explore import apply as schedule
from cacherace.strategies.cache_aside import CacheAside
from tests.engine.conftest import MakeScheduler


def start(p: str, f: str, value: str | None = None) -> dict[str, Any]:
    a = {"do": "start", "process": p, "f": f, "key": "k1"}
    return a if value is None else {**a, "value": value}


def step(p: str) -> dict[str, Any]:
    return {"do": "step", "process": p}


def finish(p: str) -> dict[str, Any]:
    return {"do": "finish", "process": p}


SCHEDULES: dict[str, list[dict[str, Any]]] = {
    # c0 dies parked at its SET, inside its loop's run; restarted, it reads again
    "client-crash": [start("c0", "read"), step("c0"), step("c0"),
                     {"do": "client-crash", "process": "c0"}, start("c0", "read"),
                     finish("c0")],
    "fail-before": [start("c1", "write", "k1.1"), {"do": "fail-before", "process": "c1"},
                    finish("c1"), start("c0", "read"), finish("c0")],
    "fail-after": [start("c1", "write", "k1.1"), {"do": "fail-after", "process": "c1"},
                   finish("c1"), start("c0", "read"), finish("c0")],
    "cache-crash": [start("c0", "read"), finish("c0"), {"do": "cache-crash"},
                    start("c1", "write", "k1.1"), finish("c1"), {"do": "cache-restart"},
                    start("c0", "read"), finish("c0")],
    "db-crash": [start("c0", "read"), step("c0"), {"do": "db-crash"}, finish("c0"),
                 {"do": "db-restart"}, start("c1", "write", "k1.1"), finish("c1")],
    "evict-and-expire": [start("c0", "read"), finish("c0"), {"do": "evict", "key": "k1"},
                         start("c0", "read"), finish("c0"), {"do": "advance", "seconds": 301},
                         start("c1", "read"), finish("c1")],
}  # fmt: skip


def _error(e: dict[str, Any]) -> str | None:
    # redis-py words a refused connection differently in its asyncio form, and a
    # killed PostgreSQL's last words (AdminShutdown, an OperationalError) reach
    # the client or not, run to run: the error's kind is what is the same
    error = e.get("error")
    if error is None:
        return None
    kind = error.split(":")[0]
    return "OperationalError" if kind == "AdminShutdown" else kind


def _shape(run: dict[str, Any]) -> list[tuple[Any, ...]]:
    fields = ("kind", "process", "target", "command", "result", "fault", "value",
              "outcome", "expired", "cache", "db", "settled")  # fmt: skip
    return [(*(e.get(f) for f in fields), _error(e)) for e in run["events"]]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_async_history_is_the_sync_history(make_scheduler: MakeScheduler, name: str) -> None:
    actions = SCHEDULES[name]
    sync = schedule.run(make_scheduler(CacheAside), actions).to_json()
    s = make_scheduler(AsyncCacheAside)
    runs = [schedule.run(s, actions).to_json() for _ in range(3)]
    assert _shape(runs[0]) == _shape(sync)
    assert _shape(runs[1]) == _shape(runs[0]) and _shape(runs[2]) == _shape(runs[0])
    kinds = {e["kind"] for e in runs[0]["events"]}
    assert "step" in kinds and ("fault" in kinds or name == "evict-and-expire")
