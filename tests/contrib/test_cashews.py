"""cashews' findings replay 10 times out of 10 on one engine (the issue's bar for
library findings), and what its recipes rest on: the lock's waiters spin (SET NX,
PING, sleep(0)) without being stepped, the early refresh's lock delete runs as the
client's background actor."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacherace.engine.engine import Engine
from cacherace.explore import apply as schedule
from cacherace.explore.replay import first_difference
from cacherace.model.history import Step, Wait
from cacherace.properties import check
from cacherace.report.trace import load
from cacherace.servers import Backend
from cacherace.strategies.registry import load_strategy

from .schedules import FINDINGS

TRACES = Path(__file__).parent / "traces"
CASHEWS = sorted(n for n in FINDINGS if n.startswith("cashews-"))


@pytest.mark.parametrize("name", CASHEWS)
def test_cashews_finding_replays_10_of_10(name: str, cacherace_backend: Backend) -> None:
    trace = load(TRACES / f"{name}.json")
    s = Engine(load_strategy(trace.strategy), cacherace_backend.redis(trace.persistence),
               cacherace_backend.postgres(), clients=trace.clients, keys=tuple(trace.keys),
               settings=trace.strategy_settings())  # fmt: skip
    try:
        diffs = []
        for _ in range(10):
            history = schedule.run(s, trace.schedule, trace.history.initial)
            diffs.append(first_difference(trace.history, history))
            assert check(trace.claim, history).broken
    finally:
        s.close()
    assert [d for d in diffs if d is not None] == []


def test_the_locked_waiter_spins_until_the_holder_unlocks(cacherace_backend: Backend) -> None:
    trace = load(TRACES / "cashews-locked--converges.json")
    h = trace.history
    lock_tries = [e for e in h.events if isinstance(e, Step) and e.process == "c1"
                  and e.command.startswith("SET lock:")]  # fmt: skip
    assert lock_tries == []  # c1 only wrote: writes take no lock
    s = Engine(
        load_strategy(trace.strategy),
        cacherace_backend.redis(trace.persistence),
        cacherace_backend.postgres(),
        clients=2,
        settings=trace.strategy_settings(),
    )
    try:
        actions = [{"do": "start", "process": "c0", "f": "read", "key": "k1"},
                   {"do": "step", "process": "c0"},
                   {"do": "start", "process": "c1", "f": "read", "key": "k1"},
                   *[{"do": "step", "process": "c1"}] * 20,
                   {"do": "finish", "process": "c1"}]  # fmt: skip
        h = schedule.run(s, actions)
    finally:
        s.close()
    tries = [e.command.split()[0] for e in h.events if isinstance(e, Step) and e.process == "c1"]
    assert tries[:5] == ["SET", "PING", "SET", "PING", "SET"]  # then its steps did nothing
    [wait] = [e for e in h.events if isinstance(e, Wait)]
    assert (wait.process, wait.on, wait.ended) == ("c1", ("c0",), True)
    assert check("single-flight", h).status.value == "holds"  # c1 was served c0's fill


def test_the_early_refresh_unlocks_in_the_background() -> None:
    h = load(TRACES / "cashews-early--converges-refresh.json").history
    bg = [e.command for e in h.events if isinstance(e, Step) and e.process == "c0.bg"]
    assert bg == ["UNLINK early:v2:cr:k1:lock"]  # cashews' fire-and-forget delete
