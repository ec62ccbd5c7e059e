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
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from cacherace.harness.machine import TIERS, ClaimBroken, Exploration, machine_for, needed_faults
from cacherace.harness.scheduler import HarnessError, Scheduler
from cacherace.model.history import Step
from cacherace.properties import get_claim


@dataclass
class Budget:
    """How hard to look: Hypothesis examples per tier and rules per example."""

    max_examples: int = 100
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


def hypothesis_settings(budget: Budget) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if budget.shrink:
        phases.append(Phase.shrink)
    return settings(
        max_examples=budget.max_examples,
        stateful_step_count=budget.step_count,
        deadline=None,  # real servers: step times vary, and time is virtual anyway
        database=None,  # verdicts come from the seed, never from a saved example
        phases=phases,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet if budget.quiet else Verbosity.normal,
        report_multiple_bugs=False,
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
    return "broken only with faults: " + ", ".join(needed) if needed else "broken with faults"


def explore(
    scheduler: Scheduler,
    strategy: str,
    claim_name: str,
    budget: Budget | None = None,
    *,
    tiers: Sequence[str] = TIERS,
    crashable: bool = True,
) -> CellResult:
    """Run the tiers in order until one breaks the claim; see the module docstring."""
    budget = budget or Budget()
    claim = get_claim(claim_name)
    result = CellResult(strategy, claim_name, "holds")
    started = time.perf_counter()
    last: Exploration | None = None
    for tier in tiers:
        machine, seen = machine_for(scheduler, claim, tier, crashable=crashable)
        last = seen
        try:
            run_state_machine_as_test(
                seed(budget.seed)(machine), settings=hypothesis_settings(budget)
            )
        except ClaimBroken as broken:
            result.examples += seen.examples
            result.faults += seen.faults
            needed = needed_faults(broken.schedule)
            result.verdict, result.tier, result.broken = "broken", tier, broken
            result.steps = step_count(broken)
            result.needed = needed
            result.reason = f"{describe_tier(tier, needed)}: {broken.verdict.reason}"
            break
        except (HarnessError, Flaky) as exc:
            result.examples += seen.examples
            result.verdict, result.tier = "unknown", tier
            result.reason = f"the harness could not run every schedule: {exc}"
            break
        result.examples += seen.examples
        result.faults += seen.faults
    else:
        if last is not None and not last.statuses.get("holds") and last.unknown_reasons:
            result.verdict = "unknown"
            result.reason = max(last.unknown_reasons, key=last.unknown_reasons.__getitem__)
        else:
            result.reason = (
                f"no violation in {result.examples} examples over tiers "
                f"{', '.join(tiers)} ({result.faults} faults injected)"
            )
    result.seconds = time.perf_counter() - started
    return result
