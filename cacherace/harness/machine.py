"""The Hypothesis state machine that hunts races and crashes for one claim.

Hypothesis draws everything (operations, keys, which process steps next, faults,
time advances) on the test's thread; the scheduler executes it against the real
servers. Rules map one-to-one onto schedule actions, so the schedule recorded for
a failing example is exactly what shrinking minimised and what replay re-runs.

Tiers keep verdicts honest about what a break needed: ``concurrency`` has only
operations and steps; ``time`` adds virtual time advances; ``faults`` adds client
crashes, driver-call failures, cache and database crashes, and evictions.
"""

from __future__ import annotations

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
        try:
            from cacherace.harness.diagram import render
        except ImportError:  # pragma: no cover - only while reports are absent
            return self.verdict.reason
        return f"{self.verdict.reason}\n\n{render(self.history, self.verdict)}"


@dataclass
class Exploration:
    """What a machine class saw across its examples (for 'holds' verdicts)."""

    examples: int = 0
    faults: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    unknown_reasons: dict[str, int] = field(default_factory=dict)

    def record(self, verdict: Verdict) -> None:
        self.statuses[verdict.status.value] = self.statuses.get(verdict.status.value, 0) + 1
        if verdict.status is Status.UNKNOWN:
            reasons = self.unknown_reasons
            reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1


def time_steps(scheduler: Scheduler) -> list[float]:
    """Advances worth drawing: the strategy's delay, half a TTL, just past a TTL."""
    s = scheduler.settings
    return sorted({float(s.delay), s.ttl / 2, s.ttl + 1.0})


def machine_for(
    scheduler: Scheduler, claim: Claim, tier: str, *, crashable: bool = True
) -> tuple[type[RuleBasedStateMachine], Exploration]:
    """Build the state machine class for one claim and tier on ``scheduler``.

    ``crashable`` is False for servers given by URL: no cache or database crash rules.
    """
    level = TIERS.index(tier)
    clients = list(scheduler.clients)
    processes = list(scheduler.processes)
    actors = list(scheduler.actors)
    keys = list(scheduler.keys)
    seen = Exploration()

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

        def _verdict(self) -> Verdict:
            verdict = claim.check(scheduler.history)
            if verdict.broken:
                self.failed = True
                raise ClaimBroken(verdict, self.schedule, scheduler.history)
            return verdict

        @rule(client=st.sampled_from(clients), f=st.sampled_from(["read", "write"]),
              key=st.sampled_from(keys))  # fmt: skip
        def start(self, client: str, f: str, key: str) -> None:
            if scheduler.busy(client):
                return
            action: Action = {"do": "start", "process": client, "f": f, "key": key}
            if f == "write":
                self.written += 1
                action["value"] = f"{key}.{self.written}"
            self._do(action)

        @precondition(lambda self: any(scheduler.busy(p) for p in processes))
        @rule(process=st.sampled_from(processes))
        def step(self, process: str) -> None:
            self._do({"do": "step", "process": process})

        @precondition(lambda self: any(scheduler.busy(p) for p in processes))
        @rule(process=st.sampled_from(processes))
        def finish(self, process: str) -> None:
            self._do({"do": "finish", "process": process})

        if actors:

            @rule(actor=st.sampled_from(actors))
            def start_actor(self, actor: str) -> None:
                self._do({"do": "start", "process": actor, "f": actor})

        if level >= 1:

            @rule(seconds=st.sampled_from(time_steps(scheduler)))
            def advance(self, seconds: float) -> None:
                self._do({"do": "advance", "seconds": seconds})

        if level >= 2:

            @precondition(lambda self: any(scheduler.busy(p) for p in processes))
            @rule(process=st.sampled_from(processes))
            def crash_client(self, process: str) -> None:
                self._do({"do": "crash-client", "process": process})

            @precondition(lambda self: any(scheduler.busy(p) for p in processes))
            @rule(
                process=st.sampled_from(processes), when=st.sampled_from([FAIL_AFTER, FAIL_BEFORE])
            )
            def fail_call(self, process: str, when: str) -> None:
                self._do({"do": when, "process": process})

            @rule(key=st.sampled_from(keys))
            def evict(self, key: str) -> None:
                self._do({"do": "evict", "key": key})

            if crashable:

                @rule()
                def crash_cache(self) -> None:
                    self._do({"do": "crash-cache"})

                @precondition(lambda self: not scheduler.cache_up)
                @rule()
                def restart_cache(self) -> None:
                    self._do({"do": "restart-cache"})

                @rule()
                def crash_db(self) -> None:
                    self._do({"do": "crash-db"})

                @precondition(lambda self: not scheduler.db_up)
                @rule()
                def restart_db(self) -> None:
                    self._do({"do": "restart-db"})

        if not claim.end_state:

            @invariant()
            def claim_holds(self) -> None:
                self._verdict()

        def teardown(self) -> None:
            if self.failed:  # an invariant already failed; keep its exception
                return
            scheduler.settle()
            seen.record(self._verdict())

    CacheRace.__name__ = f"CacheRace_{claim.name.replace('-', '_')}_{tier}"
    return CacheRace, seen


def needed_faults(schedule: list[dict[str, Any]]) -> list[str]:
    """The fault kinds a (minimal) schedule uses, in first-use order."""
    kinds: dict[str, None] = {}
    for action in schedule:
        if action["do"] in FAULT_ACTIONS and not action["do"].startswith("restart"):
            kinds[action["do"]] = None
    return list(kinds)
