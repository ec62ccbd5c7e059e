"""The Hypothesis state machine that hunts races and crashes.

Hypothesis draws everything (operations, keys, which process steps next, faults,
time advances) on the test's thread; the scheduler executes it against the real
servers. Rules map one-to-one onto schedule actions, so the schedule recorded for
a failing example is exactly what shrinking minimised and what replay re-runs.

Rules carry no preconditions and name their process outright, so the drawn
actions form a plain list whose elements mean the same thing wherever they stand:
the shrinker can delete any of them without changing the rest.

Tiers keep verdicts honest about what a break needed: ``concurrency`` has only
operations and steps; ``time`` adds virtual time advances; ``faults`` adds client
crashes, driver-call failures, cache and database crashes, and evictions.

All claims under exploration are checked on every example; each claim fails with
its own exception type, so Hypothesis shrinks each broken claim separately.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cacherace.harness.schedule import FAULT_ACTIONS, Action, apply
from cacherace.harness.scheduler import FAIL_AFTER, FAIL_BEFORE, Scheduler
from cacherace.model.history import History
from cacherace.model.verdict import Status, Verdict
from cacherace.properties import Claim

TIERS = ("concurrency", "time", "faults")


class ClaimBroken(AssertionError):
    """A claim broke on an example. Carries everything a report and a trace need;
    its message is the sequence diagram, so a failing pytest test shows it."""

    def __init__(self, verdict: Verdict, schedule: list[Action], history: History) -> None:
        self.verdict = verdict
        self.schedule = list(schedule)
        self.history = history
        super().__init__(verdict.reason)

    def __str__(self) -> str:
        from cacherace.harness.diagram import render

        return f"{self.verdict.reason}\n\n{render(self.history, self.verdict)}"


_BROKEN_TYPES: dict[str, type[ClaimBroken]] = {}


def broken_type(claim: str) -> type[ClaimBroken]:
    """One exception type per claim: Hypothesis tells failures apart by type, so
    each broken claim is shrunk on its own instead of into another claim's example."""
    if claim not in _BROKEN_TYPES:
        name = "ClaimBroken_" + claim.replace("-", "_")
        _BROKEN_TYPES[claim] = type(name, (ClaimBroken,), {"__module__": __name__})
    return _BROKEN_TYPES[claim]


@dataclass
class Exploration:
    """What a machine class saw across its examples (for 'holds' verdicts)."""

    examples: int = 0
    faults: int = 0
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    #: claim -> (example number, perf_counter time) of its first failing example,
    #: before any shrinking: how long the search took to find it (for the benchmark)
    first_failure: dict[str, tuple[int, float]] = field(default_factory=dict)

    def record(self, verdict: Verdict) -> None:
        counts = self.statuses.setdefault(verdict.claim, {})
        counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
        if verdict.status is Status.UNKNOWN:
            reasons = self.unknown_reasons.setdefault(verdict.claim, {})
            reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1


def time_steps(scheduler: Scheduler) -> list[float]:
    """Advances worth drawing: the strategy's delay, half a TTL, just past a TTL."""
    s = scheduler.settings
    return sorted({float(s.delay), s.ttl / 2, s.ttl + 1.0})


def machine_for(
    scheduler: Scheduler, claims: Sequence[Claim], tier: str, *, crashable: bool = True
) -> tuple[type[RuleBasedStateMachine], Exploration]:
    """Build the state machine class for ``claims`` at ``tier`` on ``scheduler``.

    ``crashable`` is False for servers given by URL: no cache or database crash rules.
    """
    level = TIERS.index(tier)
    keys = st.sampled_from(list(scheduler.keys))
    seen = Exploration()
    invariants = [c for c in claims if not c.end_state]

    class CacheRace(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            scheduler.reset()
            self.schedule: list[Action] = []
            self.written = 0
            self.failed = False
            seen.examples += 1

        def _do(self, action: Action) -> None:
            if apply(scheduler, action):
                self.schedule.append(action)
                if action["do"] in FAULT_ACTIONS:
                    seen.faults += 1

        def _check(self, which: Sequence[Claim], settled: bool) -> None:
            for claim in which:
                verdict = claim.check(scheduler.history)
                if verdict.broken:
                    self.failed = True
                    seen.first_failure.setdefault(claim.name, (seen.examples, time.perf_counter()))
                    if not settled:  # let the history end as a replay's would
                        scheduler.settle()
                    raise broken_type(claim.name)(verdict, self.schedule, scheduler.history)
                if settled:
                    seen.record(verdict)

        def write(self, process: str, key: str) -> None:
            self.written += 1
            value = f"{key}.{self.written}"
            self._do({"do": "start", "process": process, "f": "write", "key": key, "value": value})

        if invariants:

            @invariant()
            def claims_hold(self) -> None:
                if not self.failed:
                    self._check(invariants, settled=False)

        def teardown(self) -> None:
            if self.failed:  # a claim already failed mid-run; keep its exception
                return
            scheduler.settle()
            self._check(claims, settled=True)

    # Rules name their process outright and carry no preconditions: an action that
    # does not apply (stepping an idle client) is a no-op left out of the schedule.
    # Deleting one action then never changes what the others mean, which is what
    # lets the shrinker reach the minimal interleaving (preconditioned per-process
    # rules, measured: 1 of 4 failing seeds shrank to the minimum).
    clients = st.sampled_from(list(scheduler.clients))
    processes = st.sampled_from(list(scheduler.processes))
    rules: dict[str, Any] = {
        "start_read": rule(process=clients, key=keys)(
            lambda self, process, key: self._do(
                {"do": "start", "process": process, "f": "read", "key": key}
            )
        ),
        "start_write": rule(process=clients, key=keys)(
            lambda self, process, key: None if scheduler.busy(process) else self.write(process, key)
        ),
        "step": rule(process=processes)(
            lambda self, process: self._do({"do": "step", "process": process})
        ),
        "finish": rule(process=processes)(
            lambda self, process: self._do({"do": "finish", "process": process})
        ),
    }
    if scheduler.actors:
        rules["start_actor"] = rule(actor=st.sampled_from(list(scheduler.actors)))(
            lambda self, actor: self._do({"do": "start", "process": actor, "f": actor})
        )
    if level >= 1:
        rules["advance"] = rule(seconds=st.sampled_from(time_steps(scheduler)))(
            lambda self, seconds: self._do({"do": "advance", "seconds": seconds})
        )
    if level >= 2:
        faults = [FAIL_AFTER, FAIL_BEFORE, "crash-client"]
        rules["fault"] = rule(process=processes, do=st.sampled_from(faults))(
            lambda self, process, do: self._do({"do": do, "process": process})
        )
        rules["evict"] = rule(key=keys)(lambda self, key: self._do({"do": "evict", "key": key}))
        if crashable:
            servers = ["crash-cache", "restart-cache", "crash-db", "restart-db"]
            rules["server"] = rule(do=st.sampled_from(servers))(
                lambda self, do: self._do({"do": do})
            )
    name = f"CacheRace_{scheduler.strategy_cls.__name__}_{tier}"
    return type(name, (CacheRace,), rules), seen


def needed_faults(schedule: list[dict[str, Any]]) -> list[str]:
    """The fault kinds a (minimal) schedule uses, in first-use order."""
    kinds: dict[str, None] = {}
    for action in schedule:
        if action["do"] in FAULT_ACTIONS and not action["do"].startswith("restart"):
            kinds[action["do"]] = None
    return list(kinds)
