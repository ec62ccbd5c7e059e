"""The Hypothesis state machine that hunts races, crashes and hangs.

Hypothesis draws everything (operations, keys, which process steps next, faults,
time advances) on the test's thread; the scheduler executes it against the real
servers. Rules map one-to-one onto schedule actions, so the schedule recorded for
a failing example is exactly what shrinking minimised and what replay re-runs.

Rules carry no preconditions and name their process outright, so the drawn
actions form a plain list whose elements mean the same thing wherever they stand:
the shrinker can delete any of them without changing the rest.

Tiers keep verdicts honest about what a break needed: ``concurrency`` has only
operations and steps; ``time`` adds virtual time advances; ``faults`` adds client
crashes, driver-call failures and evictions; ``crashes`` ("crashes and hangs")
adds cache and database crashes, pauses (calls to a paused server wait until it
resumes or their client's timeout fires) and client timeouts. Server crashes are
a tier of their own because each costs a server restart (~30 ms, against ~8 ms
for a whole example without one): mixed into the faults tier they made it 15x
slower and, leaving servers down, hid client faults.

All claims under exploration are checked on every example; each claim fails with
its own exception type, so Hypothesis shrinks each broken claim separately.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cacherace.engine.engine import Scheduler
from cacherace.errors import ClaimError
from cacherace.explore import hygiene
from cacherace.explore.apply import apply
from cacherace.explore.tiers import TIERS, is_fault, time_steps
from cacherace.model.actions import (
    CACHE_CRASH,
    CACHE_PAUSE,
    CACHE_RESTART,
    CACHE_RESUME,
    CLIENT_CRASH,
    CLIENT_TIMEOUT,
    DB_CRASH,
    DB_PAUSE,
    DB_RESTART,
    DB_RESUME,
    FAIL_AFTER,
    FAIL_BEFORE,
    Action,
    Advance,
    ClientFault,
    Deliver,
    Evict,
    Finish,
    ServerFault,
    Start,
    StepAction,
    to_json,
)
from cacherace.model.history import History, Step
from cacherace.model.verdict import Status, Verdict
from cacherace.properties import Claim

__all__ = ["TIERS", "ClaimBroken", "Exploration", "broken_type", "machine_for"]


#: An outage that heals at once: the crash and the restart it is drawn as.
_BOUNCES = {"bounce-cache": (CACHE_CRASH, CACHE_RESTART), "bounce-db": (DB_CRASH, DB_RESTART)}


class ClaimBroken(ClaimError):
    """A claim broke on an example. Carries everything a report and a trace need;
    its message is the sequence diagram, so a failing pytest test shows it."""

    def __init__(self, verdict: Verdict, schedule: list[Action], history: History) -> None:
        self.verdict = verdict
        self.schedule = list(schedule)
        self.history = history
        super().__init__(verdict.reason)

    def __str__(self) -> str:
        from cacherace.report.diagram import render

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
    #: some example made a driver call (else nothing was checked)
    reached_driver: bool = False

    def record(self, verdict: Verdict) -> None:
        counts = self.statuses.setdefault(verdict.claim, {})
        counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
        if verdict.status is Status.UNKNOWN:
            reasons = self.unknown_reasons.setdefault(verdict.claim, {})
            reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1


def machine_for(
    scheduler: Scheduler, claims: Sequence[Claim], tier: str, *, crashable: bool = True
) -> tuple[type[RuleBasedStateMachine], Exploration]:
    """Build the state machine class for ``claims`` at ``tier`` on ``scheduler``.

    ``crashable`` is False for servers given by URL: no cache or database crash rules.
    """
    level = TIERS.index(tier)
    keys = st.sampled_from(list(scheduler.keys))
    if any(p.strategy is None for p in scheduler.processes.values()):
        hygiene.reset(scheduler)  # build the strategy objects: their clients say what they use
    tracking = scheduler.invalidations.used
    seen = Exploration()
    invariants = [c for c in claims if not c.end_state]

    class CacheRace(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            hygiene.reset(scheduler)
            self.schedule: list[Action] = []
            self.written = 0
            self.failed = False
            seen.examples += 1

        def _do(self, action: Action) -> None:
            try:
                applied = apply(scheduler, action)
            except Exception as exc:  # a harness failure: say which schedule hit it
                shown = ", ".join(str(to_json(a)) for a in [*self.schedule, action])
                exc.add_note(f"cacherace schedule: [{shown}]")
                raise
            if applied:
                self.schedule.append(action)
                if is_fault(action):
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

        def act(self, action: Action, wait: float = 0.0, fault: str | None = None) -> None:
            """``action``, unless it does not apply, optionally after ``wait`` virtual
            seconds and with ``fault`` on its process (a crash, or a timeout of a call
            that hangs, replaces the action)."""
            process = action.process  # type: ignore[union-attr]
            in_flight = scheduler.busy(process)
            if in_flight != (not isinstance(action, Start)):
                return  # stepping an idle process, starting a busy one: no-op
            if wait:
                self._do(Advance(wait))
            hangs = scheduler.nemesis.hangs
            if fault == CLIENT_CRASH or (fault == CLIENT_TIMEOUT and hangs.can_time_out(process)):
                self._do(ClientFault(fault, process))  # instead of the action
                return
            if fault is not None and fault != CLIENT_TIMEOUT:
                self._do(ClientFault(fault, process))
            if isinstance(action, Start) and action.f == "write":
                self.written += 1
                action = Start(process, "write", action.key, f"{action.key}.{self.written}")
            self._do(action)

        def _go(self, process: str, f: str, key: str, wait: float, fault: str | None) -> None:
            if scheduler.busy(process):
                self.act(StepAction(process), wait, fault)
            elif process in scheduler.actors:
                self.act(Start(process, process), wait)
            else:
                self.act(Start(process, f, key), wait)

        def _outage(self, do: str) -> None:
            if do in _BOUNCES:
                crash, restart = _BOUNCES[do]
                self._do(ServerFault(crash))
                self._do(ServerFault(restart))
            else:
                self._do(ServerFault(do))

        if invariants:

            @invariant()
            def claims_hold(self) -> None:
                if not self.failed:
                    self._check(invariants, settled=False)

        def teardown(self) -> None:
            if self.failed:  # a claim already failed mid-run; keep its exception
                return
            scheduler.settle()
            if not seen.reached_driver:
                seen.reached_driver = any(isinstance(e, Step) for e in scheduler.history.events)
            for claim in claims:
                if claim.score is not None:
                    target(claim.score(scheduler.history), label=claim.name)
            self._check(claims, settled=True)

    # Rules name their process outright and carry no preconditions: an action that
    # does not apply (stepping an idle client) is a no-op left out of the schedule.
    # Deleting one action then never changes what the others mean, which is what
    # lets the shrinker reach the minimal interleaving (preconditioned per-process
    # rules, measured: 1 of 4 failing seeds shrank to the minimum).
    #
    # Time and faults come as optional perturbations of those same rules (time
    # passes before the action; the action's process crashes or its next call
    # fails) rather than as rules of their own: the higher tiers then explore the
    # same interleavings as the concurrency tier, perturbed, instead of diluting
    # them (measured on cache-aside's ttl-bounded: an own `advance` rule never
    # produced a stale cache entry in 100 examples).
    processes = st.sampled_from(list(scheduler.processes))
    steps = time_steps(scheduler.settings)
    waits = st.sampled_from([0.0, 0.0, 0.0, *steps]) if level >= 1 else st.just(0.0)
    client_faults = [None, None, None, None, FAIL_AFTER, FAIL_BEFORE, CLIENT_CRASH]
    if level >= 3 and crashable:  # the client gives up on a call to a paused server
        client_faults.append(CLIENT_TIMEOUT)
    faults = st.sampled_from(client_faults) if level >= 2 else st.none()
    fs = st.sampled_from(["read", "write"])
    rules: dict[str, Any] = {
        # One rule both starts and steps: an idle process starts an operation, a busy
        # one takes its next step. Every draw does something, and the schedule reads
        # like the list of "who goes next" that shrinks best.
        "go": rule(process=processes, f=fs, key=keys, wait=waits, fault=faults)(
            lambda self, process, f, key, wait, fault: self._go(process, f, key, wait, fault)
        ),
        "finish": rule(process=processes, wait=waits, fault=faults)(
            lambda self, process, wait, fault: self.act(Finish(process), wait, fault)
        ),
    }
    if tracking:
        # When the invalidations Redis pushed reach a client-side cache (redis-py's
        # cache_config): its own rule, offered only to such strategies, so every
        # other strategy's examples are drawn exactly as before.
        rules["deliver"] = rule(process=processes)(lambda self, process: self._do(Deliver(process)))
    if level >= 2:
        rules["evict"] = rule(key=keys)(lambda self, key: self._do(Evict(key)))
    if level >= 3 and crashable:
        # A crash that heals at once ("bounce") as often as one that stays down:
        # a server left down poisons the rest of an example (no fills, no writes).
        # Mostly no outage at all: each costs a server restart, and one or two per
        # example already put operations before, during and after one.
        # A pause stays until its resume is drawn (or settle): calls in between hang.
        outages = [None] * 8 + ["bounce-cache", "bounce-db", CACHE_CRASH, CACHE_RESTART,
                                DB_CRASH, DB_RESTART, CACHE_PAUSE, CACHE_RESUME,
                                DB_PAUSE, DB_RESUME]  # fmt: skip
        rules["outage"] = rule(do=st.sampled_from(outages))(
            lambda self, do: None if do is None else self._outage(do)
        )
    name = f"CacheRace_{scheduler.strategy_cls.__name__}_{tier}"
    return type(name, (CacheRace,), rules), seen
