"""Explore one cell (a strategy and a claim) tier by tier, weakest first.

Each tier is searched systematically within the scope (every schedule, see
:mod:`cacherace.explore.systematic`), then randomly beyond it (Hypothesis), as
``Budget.mode`` says. The answer is the weakest tier that breaks the claim, with
the minimal (or shrunk) schedule and its history, or holds with its evidence
(exhaustive within a scope, complete or not, and random examples), or unknown
with why. Shared by ``cacherace verify``, the pytest helper and the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from cacherace.engine.engine import Scheduler
from cacherace.errors import BackendError
from cacherace.explore.machine import ClaimBroken, Exploration, machine_for
from cacherace.explore.scope import Scope
from cacherace.explore.systematic import Found, Search
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
    #: "exhaustive", "random" or "both" (systematic within ``scope``, then random)
    mode: str = "random"
    scope: Scope = field(default_factory=Scope)
    #: cap on one tier's systematic search of one strategy (None: to completion)
    exhaustive_seconds: float | None = None
    #: makes a tier's systematic search (``parallel.PooledSearch`` spreads it over workers)
    search: Callable[..., Search] = Search
    #: budget of one tier's systematic search, in schedules, times the tier's share
    #: (None: to completion). Counted, not timed, so verdicts do not depend on the
    #: machine or its load.
    exhaustive_schedules: int | None = None
    #: the time tier's schedules place an advance at every point of the concurrency
    #: tier's (~2.5x as many to reach the same workloads); the catalog's fault breaks
    #: turn up within 250 schedules of their tier; a crash tier's schedule restarts a
    #: server (~10x the cost): see the README's "Exhaustive versus random"
    schedule_share: dict[str, float] = field(
        default_factory=lambda: {"time": 2.5, "faults": 0.5, "crashes": 0.1}
    )

    def schedules_for(self, tier: str) -> int | None:
        if self.exhaustive_schedules is None:
            return None
        return max(1, round(self.exhaustive_schedules * self.schedule_share.get(tier, 1.0)))


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
    #: how the verdict was reached (see :meth:`evidence`)
    mode: str = "random"
    schedules: int = 0
    complete: bool = False
    scope: Scope | None = None
    #: tiers whose systematic search did not finish (capped or stopped)
    incomplete: list[str] = field(default_factory=list)
    #: a harness failure (not a verdict): the error, its schedule, its traceback tail
    harness_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: for an exhaustive break: what its schedule is minimal among, in words
    minimal: str | None = None

    def evidence(self) -> dict[str, Any]:
        """``{"mode", "schedules", "scope", "complete"}``, and the random examples."""
        return {
            "mode": self.mode,
            "schedules": self.schedules,
            "examples": self.examples,
            "scope": None if self.scope is None else self.scope.as_json(),
            "complete": self.complete,
            "minimal": self.minimal,
        }

    def evidence_text(self) -> str:
        """``exhaustive, N schedules, scope ...`` or ``random, N examples``."""
        if self.mode == "random" or self.scope is None:
            return f"random, {self.examples} examples"
        done = "complete" if self.complete else f"incomplete in {', '.join(self.incomplete)}"
        text = f"exhaustive, {self.schedules} schedules ({done}), scope {self.scope.describe()}"
        return text + (f"; random, {self.examples} examples" if self.examples else "")

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
            "evidence": self.evidence(),
            "harness_error": self.harness_error,
            "warnings": self.warnings,
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
    what = "server crashes and hangs" if tier == "crashes" else "faults"
    return f"broken only with {what}: {', '.join(needed)}" if needed else f"broken with {what}"


def _split(exc: BaseException) -> tuple[list[ClaimBroken], list[BaseException]]:
    """The claims an exploration broke, and the other errors, from what Hypothesis
    raised (one exception, or a group when several things failed)."""
    if isinstance(exc, ClaimBroken):
        return [exc], []
    if isinstance(exc, BaseExceptionGroup):
        found = [e for e in exc.exceptions if isinstance(e, ClaimBroken)]
        return found, [e for e in exc.exceptions if not isinstance(e, ClaimBroken)]
    return [], [exc]


def _error_text(errors: Sequence[BaseException]) -> str:
    """The first error with its notes (the schedule) and the end of its traceback."""
    import traceback

    e = errors[0]
    lines = traceback.format_exception(e)
    return f"{type(e).__name__}: {e}\n" + "".join(lines[-4:]).rstrip()


class _Cell:
    """One strategy's exploration in progress: results, and the claims still standing."""

    def __init__(self, scheduler: Scheduler, strategy: str, claim_names: Sequence[str],
                 budget: Budget, tiers: Sequence[str], crashable: bool) -> None:  # fmt: skip
        self.s = scheduler
        self.budget = budget
        self.tiers = tiers
        self.crashable = crashable
        self.claims = {name: get_claim(name) for name in claim_names}
        self.results = {name: CellResult(strategy, name, "holds") for name in claim_names}
        self.active = list(claim_names)
        self.last: dict[str, Exploration] = {}
        self.held: set[str] = set()  # claims some run of any tier saw hold
        self.searched: list[str] = []  # tiers searched exhaustively to completion
        self.reached_driver = False
        for r in self.results.values():
            if budget.mode != "random":
                r.mode, r.scope, r.complete = "exhaustive", budget.scope, True

    def broke(self, broken: ClaimBroken, how: str, minimal: str = "") -> None:
        r = self.results[broken.verdict.claim]
        needed = needed_faults(broken.schedule)
        # Report what the minimal schedule needed, not where the search was.
        weakest = needed_tier(broken.schedule)
        r.verdict, r.tier, r.broken, r.needed = "broken", weakest, broken, needed
        r.steps = step_count(broken)
        r.mode = how
        below = TIERS[: TIERS.index(weakest)]
        proof = minimal if how == "exhaustive" else "found by random search"
        r.minimal = minimal if how == "exhaustive" else None
        if below and self.budget.mode != "random":
            done = [t for t in below if t in self.searched]
            missing = [t for t in below if t not in self.searched]
            proof += f"; {', '.join(done) or 'no tier'} held in the exhaustive search"
            if missing:
                proof += f", {', '.join(missing)} not searched to completion"
        r.reason = f"{describe_tier(weakest, needed)} ({proof}): {broken.verdict.reason}"
        self.active.remove(broken.verdict.claim)

    def fail(self, error: str) -> None:
        """A harness failure: the claims still standing get no verdict, and say why."""
        for name in self.active:
            r = self.results[name]
            r.verdict, r.harness_error = "unknown", error
            r.reason = f"the harness could not run every schedule: {error}"
        self.active = []

    def exhaustive(self, tier: str) -> None:
        b = self.budget
        cap = b.exhaustive_seconds
        deadline = None if cap is None else time.perf_counter() + cap
        claims = [self.claims[n] for n in self.active]
        found: Found = b.search(self.s, claims, tier, b.scope, deadline=deadline,
                                max_schedules=b.schedules_for(tier)).run()  # fmt: skip
        self.reached_driver |= found.reached_driver
        if found.complete:
            self.searched.append(tier)
        for name in self.active:
            r = self.results[name]
            if name in found.first_failure and r.examples_to_find is None:
                r.examples_to_find = r.schedules + found.first_failure[name][0]
                r.seconds_to_find = r.seconds + found.first_failure[name][1]
            r.schedules += found.schedules
            r.seconds += found.seconds
            if found.statuses.get(name, {}).get("holds"):
                self.held.add(name)
            if not found.complete:
                r.complete = False
                r.incomplete.append(tier)
        for name in list(found.broken):
            self.broke(found.broken[name], "exhaustive", found.minimality(name))
        if found.error is not None:
            self.fail(found.error)

    def random(self, tier: str) -> None:
        # A claim can be masked by another that breaks earlier in the same example,
        # so a tier is run again, without the claims it broke, until it breaks nothing new.
        while self.active:
            started = time.perf_counter()
            machine, seen = machine_for(
                self.s, [self.claims[n] for n in self.active], tier, crashable=self.crashable
            )
            error: BaseException | None = None
            try:
                run_state_machine_as_test(
                    seed(self.budget.seed)(machine), settings=hypothesis_settings(self.budget, tier)
                )
            except BackendError:
                raise  # the servers cannot run this at all: one error, not a verdict
            except (Exception, BaseExceptionGroup) as exc:
                error = exc
            spent = time.perf_counter() - started
            self.reached_driver |= seen.reached_driver
            for name in self.active:
                r = self.results[name]
                if name in seen.first_failure and r.examples_to_find is None:
                    number, at = seen.first_failure[name]
                    r.examples_to_find = r.examples + number
                    r.seconds_to_find = r.seconds + (at - started)
                r.examples += seen.examples
                r.faults += seen.faults
                r.seconds += spent
                self.last[name] = seen
                if seen.statuses.get(name, {}).get("holds"):
                    self.held.add(name)
            if error is None:
                return
            found, others = _split(error)
            for broken in found:  # breaks found stay found, whatever else failed
                self.broke(broken, "random")
            if others:
                self.fail(_error_text(others))

    def finish(self, skipped: str) -> list[CellResult]:
        for name in self.active:
            r = self.results[name]
            explored = self.last.get(name)
            reasons = explored.unknown_reasons.get(name, {}) if explored else {}
            # Unknown only if no run of any tier saw it hold (a claim that observed
            # nothing cached in the crash tier's runs held in the earlier tiers').
            if name not in self.held and reasons:
                r.verdict = "unknown"
                r.reason = max(reasons, key=reasons.__getitem__) + skipped
            else:
                r.reason = (
                    f"no violation over tiers {', '.join(self.tiers)}: {r.evidence_text()} "
                    f"({r.faults} faults injected at random){skipped}"
                )
        if not self.reached_driver:
            for r in self.results.values():
                r.warnings.append(
                    "no operation reached a Redis or PostgreSQL call in the whole exploration:"
                    " nothing was checked (does the strategy use redis-py and psycopg?)"
                )
        return list(self.results.values())


def explore_strategy(
    scheduler: Scheduler,
    strategy: str,
    claim_names: Sequence[str],
    budget: Budget | None = None,
    *,
    tiers: Sequence[str] = TIERS,
    crashable: bool = True,
) -> list[CellResult]:
    """Explore all ``claim_names`` of one strategy together, tier by tier: the
    systematic search of a tier, then the random one, as ``budget.mode`` says.

    Every claim still standing is checked on every schedule; a broken claim keeps
    its shortest schedule and leaves the set. A harness failure ends the
    exploration: claims broken so far stay broken, the rest are unknown with the
    error (``CellResult.harness_error``).
    """
    budget = budget or Budget()
    skipped = ""
    if not crashable and "crashes" in tiers:
        # Servers given by URL cannot be crashed: the tier would only repeat "faults".
        tiers = [t for t in tiers if t != "crashes"]
        skipped = " (tier crashes not run: these servers cannot be crashed; use local ones)"
    cell = _Cell(scheduler, strategy, claim_names, budget, tiers, crashable)
    for tier in tiers:
        if cell.active and budget.mode != "random":
            cell.exhaustive(tier)
        if cell.active and budget.mode != "exhaustive":
            cell.random(tier)
    return cell.finish(skipped)


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
