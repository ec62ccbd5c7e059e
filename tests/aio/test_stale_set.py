"""The async cache-aside runs step by step: the article's stale set, scheduled by
hand, gives the sync strategy's history, command for command, every time."""

from __future__ import annotations

from cacherace.contrib.async_cache_aside import AsyncCacheAside
from cacherace.explore import apply as schedule
from cacherace.strategies.cache_aside import CacheAside
from tests.engine.conftest import MakeScheduler
from tests.engine.test_determinism import STALE_SET


def _shape(run: dict) -> list[tuple]:
    return [(e["kind"], e.get("process"), e.get("target"), e.get("command"), e.get("result"),
             e.get("value"), e.get("outcome")) for e in run["events"]]  # fmt: skip


def test_async_stale_set_is_the_sync_history(make_scheduler: MakeScheduler) -> None:
    sync = schedule.run(make_scheduler(CacheAside), STALE_SET).to_json()
    s = make_scheduler(AsyncCacheAside)
    runs = [schedule.run(s, STALE_SET).to_json() for _ in range(100)]
    assert [i for i, r in enumerate(runs) if r != runs[0]] == []
    assert _shape(runs[0]) == _shape(sync)
