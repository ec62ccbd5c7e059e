"""Checking a strategy from Python: what the pytest fixture ``cacherace_check`` and
user code call. Explores, saves a trace for each broken claim, and answers with the
cells; :class:`ClaimsBroken` carries the diagrams and replay commands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cacherace.engine.aio import Undrivable, refuse_undrivable  # noqa: F401  (re-exported)
from cacherace.engine.engine import Scheduler
from cacherace.errors import ClaimError
from cacherace.explore import hygiene
from cacherace.explore.cell import Budget, CellResult, explore_strategy
from cacherace.explore.tiers import TIERS
from cacherace.report.summary import describe_failure
from cacherace.report.trace import DEFAULT_DIR, Trace, save, settings_json
from cacherace.servers import Backend
from cacherace.strategies import Settings, Strategy
from cacherace.strategies.registry import load_strategy


class ClaimsBroken(ClaimError):
    """One or more claims broke; the message holds each diagram and replay command."""

    def __init__(self, results: Sequence[CellResult]) -> None:
        self.results = list(results)
        parts = [r.diagram or r.reason for r in self.results]
        super().__init__("\n\n".join(parts))


def save_trace(result: CellResult, scheduler: Scheduler, spec: str,
               directory: str | Path = DEFAULT_DIR) -> Path:  # fmt: skip
    """Save a broken cell's shrunk schedule as a trace; fills result.trace/.diagram."""
    broken = result.broken
    if broken is None:
        raise ValueError(f"{result.strategy} × {result.claim} is not broken")
    trace = Trace(
        strategy=spec, claim=result.claim, schedule=broken.schedule, history=broken.history,
        verdict=broken.verdict, settings=settings_json(scheduler.settings),
        clients=len(scheduler.clients), keys=list(scheduler.keys),
        persistence=scheduler.strategy_cls.persistence, tier=result.tier,
    )  # fmt: skip
    path = save(trace, directory)
    result.trace = str(path)
    result.diagram = describe_failure(trace, path)
    return path


def check_strategy(
    backend: Backend,
    strategy: str | type[Strategy],
    claims: Sequence[str] | None = None,
    *,
    budget: Budget | None = None,
    clients: int = 2,
    keys: int = 1,
    settings: Settings | None = None,
    tiers: Sequence[str] = TIERS,
    trace_dir: str | Path = DEFAULT_DIR,
) -> list[CellResult]:
    """Explore ``strategy`` (a class, a catalog name, ``module:Class`` or
    ``path.py:Class``) for ``claims`` (default: those it declares)."""
    if isinstance(strategy, str):
        spec, cls = strategy, load_strategy(strategy)
    else:
        spec, cls = f"{strategy.__module__}:{strategy.__qualname__}", strategy
    refuse_undrivable(cls, spec)
    names = list(claims if claims is not None else cls.claims)
    if not names:
        raise ValueError(f"{spec} declares no claims; pass claims=[...]")
    redis_server = backend.redis(cls.persistence)
    pg_server = backend.postgres()
    scheduler = Scheduler(
        cls, redis_server, pg_server, clients=clients,
        keys=tuple(f"k{i + 1}" for i in range(keys)), settings=settings,
    )  # fmt: skip
    try:
        results = explore_strategy(
            scheduler, spec, names, budget, tiers=tiers,
            crashable=redis_server.can_crash and pg_server.can_crash,
        )  # fmt: skip
        for r in results:
            if r.broken is not None:
                save_trace(r, scheduler, spec, trace_dir)
    finally:
        hygiene.end_run(scheduler)  # a transaction left open would hold up close()
        scheduler.close()
    return results
