"""The async recipes' findings (the catalog's cache-aside written async; aiocache's
``@cached``, whose stale set is aiocache #95), saved as traces: each replays to the same
history and verdict, 100 times out of 100 on one engine, and through
``replay_trace`` (what ``cacherace replay`` runs) on fresh engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacherace.engine.engine import Engine
from cacherace.explore import apply as schedule
from cacherace.explore.replay import first_difference, replay_trace
from cacherace.model.actions import to_json
from cacherace.properties import check
from cacherace.report.trace import load
from cacherace.servers import Backend
from cacherace.strategies.registry import load_strategy

from .schedules import FINDINGS

# aiocache 0.12 stores with SETEX, which redis-py 8 marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")

TRACES = Path(__file__).parent / "traces"
NAMES = sorted(p.stem for p in TRACES.glob("*.json"))


def test_every_finding_has_its_trace() -> None:
    assert sorted(FINDINGS) == NAMES
    for name, (spec, claim, tier, actions) in FINDINGS.items():
        trace = load(TRACES / f"{name}.json")
        assert (trace.strategy, trace.claim, trace.tier) == (spec, claim, tier)
        assert [to_json(a) for a in trace.schedule] == actions


@pytest.mark.parametrize("name", NAMES)
def test_trace_replays_100_of_100(name: str, cacherace_backend: Backend) -> None:
    trace = load(TRACES / f"{name}.json")
    result = replay_trace(trace, cacherace_backend)
    assert result.same_history, result.first_difference
    assert result.verdict.broken and result.same_verdict
    s = Engine(load_strategy(trace.strategy), cacherace_backend.redis(trace.persistence),
               cacherace_backend.postgres(), clients=trace.clients, keys=tuple(trace.keys),
               settings=trace.strategy_settings())  # fmt: skip
    try:
        diffs = []
        for _ in range(100):
            history = schedule.run(s, trace.schedule, trace.history.initial)
            diffs.append(first_difference(trace.history, history))
            assert check(trace.claim, history).broken
    finally:
        s.close()
    assert [d for d in diffs if d is not None] == []
