"""The systematic explorer on real servers: short races are found at their
minimal length, tiers are exact, and the reduction finds what the full search finds.

Each test names the symptom of issue 10's "Why" it pins down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from cacherace.explore.cell import Budget, CellResult, explore_strategy
from cacherace.explore.scope import Scope
from cacherace.explore.systematic import Found, Search
from cacherace.properties import get_claim
from cacherace.strategies import Strategy
from cacherace.strategies.registry import load_strategy

from .conftest import MakeScheduler
from .strategies import CacheAsideNoTTL, RefreshOnWrite

ONE_OP = Scope(ops_per_client=1, actor_runs=1)


def _explore(make: MakeScheduler, cls: type[Strategy], claims: Sequence[str], *,
             scope: Scope = ONE_OP, mode: str = "exhaustive",
             tiers: Sequence[str] = ("concurrency", "time", "faults"),
             max_examples: int = 10) -> dict[str, CellResult]:  # fmt: skip
    s = make(cls)
    budget = Budget(max_examples=max_examples, mode=mode, scope=scope, shrink=False)
    results = explore_strategy(s, cls.name, list(claims), budget, tiers=tiers)
    return {r.claim: r for r in results}


@pytest.mark.slow
def test_double_delete_converges_is_broken_by_the_slow_reader(
    make_scheduler: MakeScheduler,
) -> None:
    # Why 1: c0 reads the old row, c1's write and the delayed delete both run,
    # then c0's SET puts the old value back. Random search at the default budget
    # said "holds". (Slow: ~6000 schedules of the time tier before it, ~35 s alone.)
    cls = load_strategy("cache-aside-double-delete")
    r = _explore(make_scheduler, cls, ["converges"], tiers=("concurrency", "time"))["converges"]
    assert (r.verdict, r.tier, r.mode) == ("broken", "time", "exhaustive"), r.reason
    assert r.broken is not None
    done = [a.do for a in r.broken.schedule]
    assert "advance" in done and "start" in done
    assert "concurrency held in the exhaustive search" in r.reason


def test_concurrency_break_is_not_reported_as_needing_faults(
    make_scheduler: MakeScheduler,
) -> None:
    # Why 2: a break by concurrency alone read "broken only with faults: fail-after".
    r = _explore(make_scheduler, RefreshOnWrite, ["converges"])["converges"]
    assert (r.verdict, r.tier, r.steps) == ("broken", "concurrency", 6), r.reason
    assert "only with faults" not in r.reason


def test_fill_without_ttl_breaks_ttl_bounded_by_concurrency(make_scheduler: MakeScheduler) -> None:
    # Why 2, second strategy: got "ttl-bounded: broken (faults, 4 steps)".
    r = _explore(make_scheduler, CacheAsideNoTTL, ["ttl-bounded"])["ttl-bounded"]
    assert (r.verdict, r.tier) == ("broken", "concurrency"), r.reason
    assert r.steps == 5


@pytest.mark.slow
def test_versioned_time_tier_breaks_are_found(make_scheduler: MakeScheduler) -> None:
    # Why 3: at 40 examples per tier these were missed. They need a client with
    # two operations (a write, then a read), so the one-operation scope cannot
    # show them; the two-operation time tier takes minutes here.
    cls = load_strategy("cache-aside-versioned")
    got = _explore(make_scheduler, cls, ["fresh-after-ack", "ttl-bounded"],
                   scope=Scope(actor_runs=0), tiers=("concurrency", "time"))  # fmt: skip
    for claim in ("fresh-after-ack", "ttl-bounded"):
        assert got[claim].verdict == "broken", (claim, got[claim].reason)
        assert got[claim].tier in ("concurrency", "time")


def test_write_through_crossing_sets_then_a_read(make_scheduler: MakeScheduler) -> None:
    # Why 4: two writers whose SETs cross, then any read: shorter than the
    # 6-step random shrink, now that acknowledged writes are ordered by commit.
    cls = load_strategy("write-through")
    r = _explore(make_scheduler, cls, ["fresh-after-ack"], scope=Scope(ops_per_client=2),
                 tiers=("concurrency",))["fresh-after-ack"]  # fmt: skip
    assert (r.verdict, r.tier) == ("broken", "concurrency"), r.reason
    assert r.steps is not None and r.steps <= 6
    assert "the database committed" in r.reason or "acknowledged" in r.reason


def both_searches(s: Any, claims: list[Any], tier: str, scope: Scope) -> tuple[Found, Found]:
    """The same search of ``tier`` within ``scope``, reduced and unreduced."""
    return (Search(s, claims, tier, scope, reduce=True).run(),
            Search(s, claims, tier, scope, reduce=False).run())  # fmt: skip


@pytest.mark.parametrize("bound", [None, 2])
@pytest.mark.parametrize("strategy", ["cache-aside", "write-through", "cache-aside-update"])
def test_reduced_and_full_search_agree(
    make_scheduler: MakeScheduler, strategy: str, bound: int | None
) -> None:
    """On a tiny scope the reduced and the unreduced search find the same broken
    claims at the same minimal lengths; the reduced one runs no more schedules."""
    cls = load_strategy(strategy)
    s = make_scheduler(cls)
    scope = Scope(ops_per_client=1, preemptions=bound)
    claims = [get_claim(c) for c in cls.claims]
    reduced, full = both_searches(s, claims, "concurrency", scope)
    assert reduced.complete and full.complete
    assert reduced.steps == full.steps
    assert reduced.schedules <= full.schedules


def test_reduced_and_full_time_search_agree(make_scheduler: MakeScheduler) -> None:
    """The time tier's reduction (an advance commutes with what does not depend
    on time) finds the same breaks at the same lengths, in fewer schedules; with
    ttl-bounded among the claims, which reads event times."""
    cls = load_strategy("cache-aside")
    s = make_scheduler(cls)
    scope = Scope(ops_per_client=1, actor_runs=0)
    claims = [get_claim(c) for c in cls.claims]
    reduced, full = both_searches(s, claims, "time", scope)
    assert reduced.complete and full.complete
    assert "ttl-bounded" in reduced.steps
    assert reduced.steps == full.steps
    assert reduced.schedules < full.schedules


@pytest.mark.slow
def test_reduced_and_full_time_search_agree_with_an_actor(make_scheduler: MakeScheduler) -> None:
    # The same with a strategy whose steps read the clock (the delayed delete's
    # due time): 2 clients x 1 operation, the actor once; ~13000 schedules unreduced.
    cls = load_strategy("cache-aside-double-delete")
    s = make_scheduler(cls)
    scope = Scope(ops_per_client=1, actor_runs=1)
    claims = [get_claim(c) for c in cls.claims]
    reduced, full = both_searches(s, claims, "time", scope)
    assert reduced.complete and full.complete
    assert reduced.steps == full.steps == {"converges": 10, "ttl-bounded": 10}
    assert reduced.schedules < full.schedules


def test_default_scope_finds_the_slow_reader_within_the_default_budget(
    make_scheduler: MakeScheduler,
) -> None:
    """Why 1 at the default scope: the time tier's search reaches the slow reader
    (10 steps, its minimum: the 2 x 1 search above is complete) within 2500
    schedules, what ``verify``'s default 8 s time-tier cap runs here at ~300
    schedules/s. Counted in schedules, not seconds, so the test does not depend
    on the machine."""
    cls = load_strategy("cache-aside-double-delete")
    s = make_scheduler(cls)
    found = Search(s, [get_claim("converges")], "time", Scope(), max_schedules=2500).run()
    assert "converges" in found.broken, found.schedules
    assert found.steps["converges"] == 10
    assert found.preemptions["converges"] == 1
    done = [(a.do, getattr(a, "process", None)) for a in found.broken["converges"].schedule]
    assert ("advance", None) in done and ("start", "delayed_delete") in done
