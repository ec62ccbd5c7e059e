"""The recipes for real libraries: each finding's trace replays on fresh servers to
the same history and still breaks; the recipes load and declare what their
library promises; a full exploration of every recipe (slow) ends in no unknown."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from cacherace.explore.cell import Budget
from cacherace.explore.check import check_strategy
from cacherace.explore.replay import replay_trace
from cacherace.report.trace import load
from cacherace.servers import Backend
from cacherace.strategies.registry import load_strategy

from .schedules import FINDINGS

TRACES = Path(__file__).parent / "traces"
RECIPES = [
    "cacherace.contrib.dogpile:DogpileLocked",
    "cacherace.contrib.dogpile:DogpileLockTimeout",
    "cacherace.contrib.dogpile:DogpileUnlocked",
    "cacherace.contrib.dogpile:DogpileSharedRegion",
    "cacherace.contrib.flask_caching:FlaskCachingMemoize",
    "cacherace.contrib.flask_caching:FlaskCachingDefault",
    "cacherace.contrib.cashews_cache:CashewsCache",
    "cacherace.contrib.cashews_cache:CashewsLocked",
    "cacherace.contrib.cashews_cache:CashewsEarly",
    "cacherace.contrib.django_cacheops:CacheopsGet",
    "cacherace.contrib.django_cacheops:CacheopsLocked",
    "cacherace.contrib.django_cacheops:CacheopsKeepFresh",
]


def test_every_finding_has_its_trace() -> None:
    assert sorted(p.stem for p in TRACES.glob("*.json")) == sorted(FINDINGS)


@pytest.mark.parametrize("name", sorted(FINDINGS))
def test_finding_replays_and_still_breaks(name: str, cacherace_backend: Backend) -> None:
    trace = load(TRACES / f"{name}.json")
    finding = FINDINGS[name]
    assert (trace.strategy, trace.claim, trace.tier) == (
        finding.strategy, finding.claim, finding.tier,
    )  # fmt: skip
    assert trace.claim in load_strategy(trace.strategy).claims
    result = replay_trace(trace, cacherace_backend)
    assert result.verdict.broken, f"{name} no longer breaks: {result.verdict.reason}"
    assert result.same_history, f"{name}: {result.first_difference}"
    assert result.same_verdict


def test_claims_are_declared_where_the_library_promises_them() -> None:
    locked = load_strategy("cacherace.contrib.dogpile:DogpileLocked")
    assert {"single-flight", "bounded-wait"} <= set(locked.claims)
    unlocked = load_strategy("cacherace.contrib.dogpile:DogpileUnlocked")
    assert "single-flight" not in unlocked.claims  # one region per process: no election
    cacheops_locked = load_strategy("cacherace.contrib.django_cacheops:CacheopsLocked")
    assert {"single-flight", "bounded-wait"} <= set(cacheops_locked.claims)  # lock=True
    assert (
        "single-flight" not in load_strategy("cacherace.contrib.django_cacheops:CacheopsGet").claims
    )
    for spec in RECIPES:  # none decodes the library's format: the end state is probed
        assert "peek_cache" not in vars(load_strategy(spec))


@pytest.mark.slow
@pytest.mark.parametrize("spec", RECIPES)
def test_no_recipe_ends_unknown(spec: str, cacherace_backend: Backend, tmp_path: Path) -> None:
    budget = Budget(max_examples=settings.default.max_examples, seed=0)
    results = check_strategy(cacherace_backend, spec, budget=budget, trace_dir=tmp_path)
    unknown = [f"{r.claim}: {r.reason}" for r in results if r.verdict == "unknown"]
    assert not unknown, unknown
