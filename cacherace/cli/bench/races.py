"""Race finding: which cells the catalog breaks, and per seed how many examples and
seconds the search needed until the first failing example, and how short the
shrunk schedule came out."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cacherace.engine.engine import Scheduler
from cacherace.errors import SearchCapped
from cacherace.explore.cell import Budget, explore, explore_strategy
from cacherace.explore.tiers import TIERS, needed_faults
from cacherace.properties import get_claim
from cacherace.servers import Backend
from cacherace.strategies import Settings, Strategy
from cacherace.strategies.registry import CATALOG


@dataclass(frozen=True)
class Cell:
    """A (strategy, claim) the catalog breaks, and the weakest tier that breaks it."""

    strategy: str
    claim: str
    tier: str


@dataclass
class SeedRun:
    seed: int
    examples_to_find: int | None = None
    seconds_to_find: float | None = None
    steps: int | None = None
    needed: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the whole exploration, shrinking included
    why: str = ""  # when not found: capped, or the verdict and its reason


class CappedScheduler(Scheduler):
    """A scheduler whose search stops at a deadline unless the claim already broke.

    Each new example (``reset``) first checks the previous example's history, so
    the cap never cuts a shrink short: once a failure was seen, it no longer applies.
    """

    deadline: float = float("inf")
    claim_name: str = ""
    found = False

    def reset(self, initial: Any = None) -> Any:
        if not self.found and self.claim_name and len(self.history):
            self.found = get_claim(self.claim_name).check(self.history).broken
        if not self.found and time.perf_counter() > self.deadline:
            raise SearchCapped()
        return super().reset(initial)


def _scheduler(backend: Backend, cls: type[Strategy], kind: type[Scheduler] = Scheduler
               ) -> tuple[Scheduler, bool]:  # fmt: skip
    redis_server = backend.redis(cls.persistence)
    pg_server = backend.postgres()
    crashable = bool(redis_server.can_crash and pg_server.can_crash)
    s = kind(cls, redis_server, pg_server, clients=2, keys=("k1",), settings=Settings())
    return s, crashable


def discover(backend: Backend, strategies: Sequence[str], examples: int) -> list[Cell]:
    """Run each strategy's declared claims through every tier (no shrinking: only
    which cells break and at which tier matters here)."""
    cells: list[Cell] = []
    for name in strategies:
        cls = CATALOG[name]
        started = time.perf_counter()
        s, crashable = _scheduler(backend, cls)
        try:
            budget = Budget(max_examples=examples, seed=0, shrink=False)
            results = explore_strategy(s, name, list(cls.claims), budget, crashable=crashable)
        finally:
            s.close()
        found = [Cell(name, r.claim, r.tier or TIERS[0]) for r in results if r.verdict == "broken"]
        print(f"  discover {name}: {', '.join(f'{c.claim} ({c.tier})' for c in found) or '-'}"
              f" [{time.perf_counter() - started:.1f}s]", file=sys.stderr, flush=True)  # fmt: skip
        cells += found
    return cells


def from_verify(path: Path) -> list[Cell]:
    """The broken cells of a ``cacherace verify --json`` file."""
    data = json.loads(path.read_text())
    return [
        Cell(r["strategy"], r["claim"], r["tier"] or TIERS[0])
        for r in data["results"]
        if r["verdict"] == "broken" and r["strategy"] in CATALOG
    ]


def measure(backend: Backend, cell: Cell, seeds: int, max_examples: int, cap_s: float
            ) -> list[SeedRun]:  # fmt: skip
    """Explore ``cell`` at its tier once per seed: examples and seconds to the first
    failure, and the shrunk length. Only the cell's own tier is explored (it
    contains the weaker tiers' rules), so the figures are the search's, not the
    cost of first ruling the weaker tiers out."""
    cls = CATALOG[cell.strategy]
    s, crashable = _scheduler(backend, cls, CappedScheduler)
    assert isinstance(s, CappedScheduler)
    s.claim_name = cell.claim
    runs: list[SeedRun] = []
    try:
        for seed in range(seeds):
            run = SeedRun(seed)
            s.found, s.deadline = False, time.perf_counter() + cap_s
            started = time.perf_counter()
            try:
                budget = Budget(max_examples=max_examples, seed=seed)
                r = explore(s, cell.strategy, cell.claim, budget, tiers=(cell.tier,),
                            crashable=crashable)  # fmt: skip
            except SearchCapped:
                r = None
            run.seconds = time.perf_counter() - started
            run.why = "capped" if r is None else f"{r.verdict}: {r.reason[:160]}"
            if r is not None and r.verdict == "broken" and r.broken is not None:
                run.examples_to_find, run.seconds_to_find = r.examples_to_find, r.seconds_to_find
                run.steps, run.needed = r.steps, needed_faults(r.broken.schedule)
            runs.append(run)
            print(f"    seed {seed}: "
                  + (f"found after {run.examples_to_find} examples / {run.seconds_to_find:.2f}s, "
                     f"shrunk to {run.steps} steps" if run.steps is not None
                     else f"not found ({run.why})")
                  + f" [{run.seconds:.1f}s]", file=sys.stderr, flush=True)  # fmt: skip
    finally:
        s.close()
    return runs


def measure_exhaustive(backend: Backend, cell: Cell, cap_s: float) -> dict[str, Any]:
    """The systematic search of ``cell``'s tier for its claim alone (default scope,
    ``verify``'s default schedule budget for the tier, capped at ``cap_s``): its
    minimal length, schedules and seconds to the first failure, schedules per
    second, and whether it finished."""
    from cacherace.cli.verify import DEFAULT_EXHAUSTIVE_SCHEDULES
    from cacherace.explore.scope import Scope
    from cacherace.explore.systematic import Search

    cls = CATALOG[cell.strategy]
    s, _ = _scheduler(backend, cls)
    budget = Budget(exhaustive_schedules=DEFAULT_EXHAUSTIVE_SCHEDULES)
    try:
        found = Search(s, [get_claim(cell.claim)], cell.tier, Scope(),
                       deadline=time.perf_counter() + cap_s,
                       max_schedules=budget.schedules_for(cell.tier)).run()  # fmt: skip
    finally:
        s.close()
    first = found.first_failure.get(cell.claim)
    return {
        "exhaustive_steps": found.steps.get(cell.claim),
        "exhaustive_schedules_to_find": None if first is None else first[0],
        "exhaustive_seconds_to_find": None if first is None else round(first[1], 3),
        "exhaustive_schedules_per_s": round(found.schedules / max(found.seconds, 1e-9), 1),
        "exhaustive_complete": found.complete,
        "exhaustive_minimal": found.minimality(cell.claim) if cell.claim in found.steps else None,
    }


def summarize(cell: Cell, runs: list[SeedRun]) -> dict[str, Any]:
    """The race's JSON row (without the baseline)."""
    found = [r for r in runs if r.steps is not None]

    def med(xs: list[float]) -> float | None:
        return round(statistics.median(xs), 3) if xs else None

    steps = [r.steps for r in found if r.steps is not None]
    shortest = min(steps) if steps else None
    return {
        "strategy": cell.strategy,
        "claim": cell.claim,
        "tier": cell.tier,
        "seeds": len(runs),
        "seeds_found": len(found),
        "examples_to_find_median": med([float(r.examples_to_find or 0) for r in found]),
        "seconds_to_find_median": med([r.seconds_to_find or 0.0 for r in found]),
        "shrunk_steps_median": med([float(n) for n in steps]),
        "shrunk_steps_min": shortest,
        "seeds_at_minimum": sum(1 for n in steps if n == shortest),
    }


def needed_by(runs: list[SeedRun]) -> list[str]:
    """Faults the shortest shrunk schedule uses (what threads would have to produce)."""
    found = [r for r in runs if r.steps is not None]
    return min(found, key=lambda r: (r.steps, len(r.needed))).needed if found else []
