"""Explore one cell (a strategy and a claim) tier by tier, weakest first.

The answer is the weakest tier that breaks the claim, with the shrunk schedule and
its history, or holds with how much was explored, or unknown with why. Shared by
``cacherace verify``, the pytest helper and the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from cacherace.engine.engine import Scheduler
from cacherace.explore.machine import ClaimBroken, Exploration, machine_for
from cacherace.explore.tiers import TIERS, needed_faults, needed_tier
from cacherace.model.history import Step
from cacherace.properties import get_claim


@dataclass
class Budget:
    """How hard to look: Hypothesis examples per tier and rules per example."""

    max_examples: int = 100
    #: share of max_examples each tier gets: a server-crash example costs ~10x more
    tier_share: dict[str, float] = field(default_factory=lambda: {"crashes": 0.5})
    step_count: int = 30
    seed: int = 0
    quiet: bool = True
    shrink: bool = True
    #: extra Hypothesis settings (e.g. a profile's derandomize) for callers that need them
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellResult:
    """The verdict of one (strategy, claim) cell, as reports and JSON show it."""

    strategy: str
    claim: str
    verdict: str
    tier: str | None = None
    examples: int = 0
    faults: int = 0
    seconds: float = 0.0
    steps: int | None = None
    #: examples run and seconds spent until the first failing example (before shrinking)
    examples_to_find: int | None = None
    seconds_to_find: float | None = None
    reason: str = ""
    needed: list[str] = field(default_factory=list)
    trace: str | None = None
    diagram: str | None = None
    broken: ClaimBroken | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "claim": self.claim,
            "verdict": self.verdict,
            "tier": self.tier,
            "examples": self.examples,
            "faults": self.faults,
            "seconds": round(self.seconds, 3),
            "steps": self.steps,
            "reason": self.reason,
            "needed": self.needed,
            "trace": self.trace,
            "diagram": self.diagram,
        }


def hypothesis_settings(budget: Budget, tier: str | None = None) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if budget.shrink:
        phases.append(Phase.shrink)
    return settings(
        max_examples=max(1, round(budget.max_examples * budget.tier_share.get(tier or "", 1.0))),
        stateful_step_count=budget.step_count,
        deadline=None,  # real servers: step times vary, and time is virtual anyway
        database=None,  # verdicts come from the seed, never from a saved example
        phases=phases,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet if budget.quiet else Verbosity.normal,
        report_multiple_bugs=True,
        **budget.extra,
    )


def step_count(broken: ClaimBroken) -> int:
    """Length of a failing run in driver calls (steps), teardown included."""
    return sum(1 for e in broken.history.events if isinstance(e, Step))


def describe_tier(tier: str, needed: Sequence[str]) -> str:
    if tier == "concurrency":
        return "broken by concurrency alone"
    if tier == "time":
        return "broken by concurrency with virtual time passing"
    what = "server crashes" if tier == "crashes" else "faults"
    return f"broken only with {what}: {', '.join(needed)}" if needed else f"broken with {what}"


def _broken_in(exc: BaseException) -> list[ClaimBroken] | None:
    """The claims an exploration broke, from what Hypothesis raised (one exception,
    or a group when several claims broke); None when something else went wrong."""
    if isinstance(exc, ClaimBroken):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        found = [e for e in exc.exceptions if isinstance(e, ClaimBroken)]
        return found if len(found) == len(exc.exceptions) else None
    return None


def explore_strategy(
    scheduler: Scheduler,
    strategy: str,
    claim_names: Sequence[str],
    budget: Budget | None = None,
    *,
    tiers: Sequence[str] = TIERS,
    crashable: bool = True,
) -> list[CellResult]:
    """Explore all ``claim_names`` of one strategy together, tier by tier.

    One Hypothesis run checks every claim still standing; each broken claim is
    shrunk on its own (its own exception type) and leaves the set. A claim can be
    masked by another that breaks earlier in the same example, so a tier is run
    again, without the claims it broke, until it breaks nothing new.
    """
    budget = budget or Budget()
    skipped = ""
    if not crashable and "crashes" in tiers:
        # Servers given by URL cannot be crashed: the tier would only repeat "faults".
        tiers = [t for t in tiers if t != "crashes"]
        skipped = " (tier crashes not run: these servers cannot be crashed; use local ones)"
    claims = {name: get_claim(name) for name in claim_names}
    results = {name: CellResult(strategy, name, "holds") for name in claim_names}
    active = list(claim_names)
    last: dict[str, Exploration] = {}
    for tier in tiers:
        while active:
            started = time.perf_counter()
            machine, seen = machine_for(
                scheduler, [claims[n] for n in active], tier, crashable=crashable
            )
            error: BaseException | None = None
            try:
                run_state_machine_as_test(
                    seed(budget.seed)(machine), settings=hypothesis_settings(budget, tier)
                )
            except (Exception, BaseExceptionGroup) as exc:
                error = exc
            spent = time.perf_counter() - started
            for name in active:
                r = results[name]
                if name in seen.first_failure and r.examples_to_find is None:
                    number, at = seen.first_failure[name]
                    r.examples_to_find = r.examples + number
                    r.seconds_to_find = r.seconds + (at - started)
                r.examples += seen.examples
                r.faults += seen.faults
                r.seconds += spent
                last[name] = seen
            if error is None:
                break
            found = _broken_in(error)
            if found is None:
                for name in active:
                    r = results[name]
                    r.verdict, r.tier = "unknown", tier
                    r.reason = f"the harness could not run every schedule: {error}"
                return [results[n] for n in claim_names]
            for broken in found:
                r = results[broken.verdict.claim]
                needed = needed_faults(broken.schedule)
                # Report what the minimal schedule needed, not where the search was.
                weakest = needed_tier(broken.schedule)
                r.verdict, r.tier, r.broken, r.needed = "broken", weakest, broken, needed
                r.steps = step_count(broken)
                r.reason = f"{describe_tier(weakest, needed)}: {broken.verdict.reason}"
                active.remove(broken.verdict.claim)
    for name in active:
        r = results[name]
        explored = last.get(name)
        statuses = explored.statuses.get(name, {}) if explored else {}
        reasons = explored.unknown_reasons.get(name, {}) if explored else {}
        if not statuses.get("holds") and reasons:
            r.verdict = "unknown"
            r.reason = max(reasons, key=reasons.__getitem__) + skipped
        else:
            r.reason = (
                f"no violation in {r.examples} examples over tiers {', '.join(tiers)} "
                f"({r.faults} faults injected){skipped}"
            )
    return [results[n] for n in claim_names]


def explore(
    scheduler: Scheduler,
    strategy: str,
    claim_name: str,
    budget: Budget | None = None,
    *,
    tiers: Sequence[str] = TIERS,
    crashable: bool = True,
) -> CellResult:
    """One cell: :func:`explore_strategy` for a single claim."""
    return explore_strategy(
        scheduler, strategy, [claim_name], budget, tiers=tiers, crashable=crashable
    )[0]
