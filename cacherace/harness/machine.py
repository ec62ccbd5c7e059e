"""The Hypothesis state machine that hunts races and crashes.

Hypothesis draws everything (operations, keys, which process steps next, faults,
time advances) on the test's thread; the scheduler executes it against the real
servers. Rules map one-to-one onto schedule actions, so the schedule recorded for
a failing example is exactly what shrinking minimised and what replay re-runs.

Every rule is specific to one process and guarded by a precondition (``step_c0``
only while c0 has an operation in flight, ``read_c1`` only while c1 is idle), so
no drawn rule is a no-op: examples stay dense and shrinking deletes whole actions.

Tiers keep verdicts honest about what a break needed: ``concurrency`` has only
operations and steps; ``time`` adds virtual time advances; ``faults`` adds client
crashes, driver-call failures, cache and database crashes, and evictions.

All claims under exploration are checked on every example; each claim fails with
its own exception type, so Hypothesis shrinks each broken claim separately.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

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

    def idle(p: str) -> Callable[[Any], bool]:
        return lambda self: not scheduler.busy(p)

    def busy(p: str) -> Callable[[Any], bool]:
        return lambda self: scheduler.busy(p)

    def act(do: str, p: str) -> Callable[[Any], None]:
        return lambda self: self._do({"do": do, "process": p})

    rules: dict[str, Any] = {}
    for p in scheduler.clients:
        rules[f"read_{p}"] = precondition(idle(p))(rule(key=keys)(
            lambda self, key, p=p: self._do({"do": "start", "process": p, "f": "read", "key": key})
        ))  # fmt: skip
        rules[f"write_{p}"] = precondition(idle(p))(rule(key=keys)(
            lambda self, key, p=p: self.write(p, key)
        ))  # fmt: skip
    for p in scheduler.actors:
        rules[f"start_{p}"] = precondition(idle(p))(rule()(
            lambda self, p=p: self._do({"do": "start", "process": p, "f": p})
        ))  # fmt: skip
    for p in scheduler.processes:
        rules[f"step_{p}"] = precondition(busy(p))(rule()(act("step", p)))
        rules[f"finish_{p}"] = precondition(busy(p))(rule()(act("finish", p)))
    if level >= 1:
        rules["advance"] = rule(seconds=st.sampled_from(time_steps(scheduler)))(
            lambda self, seconds: self._do({"do": "advance", "seconds": seconds})
        )
    if level >= 2:
        for p in scheduler.processes:
            rules[f"crash_{p}"] = precondition(busy(p))(rule()(act("crash-client", p)))
            rules[f"fail_before_{p}"] = precondition(busy(p))(rule()(act(FAIL_BEFORE, p)))
            rules[f"fail_after_{p}"] = precondition(busy(p))(rule()(act(FAIL_AFTER, p)))
        rules["evict"] = rule(key=keys)(lambda self, key: self._do({"do": "evict", "key": key}))
        if crashable:
            for server, up in (("cache", "cache_up"), ("db", "db_up")):
                rules[f"crash_{server}"] = precondition(lambda self, up=up: getattr(scheduler, up))(
                    rule()(lambda self, server=server: self._do({"do": f"crash-{server}"}))
                )
                rules[f"restart_{server}"] = precondition(
                    lambda self, up=up: not getattr(scheduler, up)
                )(rule()(lambda self, server=server: self._do({"do": f"restart-{server}"})))
    name = f"CacheRace_{scheduler.strategy_cls.__name__}_{tier}"
    return type(name, (CacheRace,), rules), seen


def needed_faults(schedule: list[dict[str, Any]]) -> list[str]:
    """The fault kinds a (minimal) schedule uses, in first-use order."""
    kinds: dict[str, None] = {}
    for action in schedule:
        if action["do"] in FAULT_ACTIONS and not action["do"].startswith("restart"):
            kinds[action["do"]] = None
    return list(kinds)
