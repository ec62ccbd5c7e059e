"""The explorer on the async cache-aside: the sync strategy's verdicts and the
same shortest schedules, as the same sequence of targets and commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cacherace.contrib.async_cache_aside import AsyncCacheAside
from cacherace.explore.cell import Budget, CellResult, explore_strategy
from cacherace.model.actions import to_json
from cacherace.model.history import Step
from cacherace.strategies.cache_aside import CacheAside
from tests.engine.conftest import MakeScheduler

CLAIMS = ("fresh-after-ack", "converges", "ttl-bounded")


def _found(make: MakeScheduler, cls: type, claims: Sequence[str],
           tiers: Sequence[str]) -> dict[str, tuple[Any, ...]]:  # fmt: skip
    budget = Budget(max_examples=100)
    results: list[CellResult] = explore_strategy(make(cls), cls.name, claims, budget,
                                                 tiers=tiers)  # fmt: skip
    out = {}
    for r in results:
        b = r.broken
        schedule = None if b is None else [to_json(a) for a in b.schedule]
        steps = () if b is None else tuple(
            (e.process, e.target, e.command) for e in b.history.events if isinstance(e, Step)
        )  # fmt: skip
        out[r.claim] = (r.verdict, r.tier, schedule, steps)
    return out


def test_the_stale_set_is_found_the_same_way(make_scheduler: MakeScheduler) -> None:
    tiers = ("concurrency",)
    sync = _found(make_scheduler, CacheAside, ["converges"], tiers)
    assert sync["converges"][0] == "broken"
    assert _found(make_scheduler, AsyncCacheAside, ["converges"], tiers) == sync


@pytest.mark.slow
def test_async_cache_aside_has_the_sync_verdicts_and_schedules(
    make_scheduler: MakeScheduler,
) -> None:
    tiers = ("concurrency", "time")
    sync = _found(make_scheduler, CacheAside, CLAIMS, tiers)
    assert {c: v[0] for c, v in sync.items()} == dict.fromkeys(CLAIMS, "broken")
    assert _found(make_scheduler, AsyncCacheAside, CLAIMS, tiers) == sync
