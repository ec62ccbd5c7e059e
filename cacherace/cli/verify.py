"""``cacherace verify``: check strategies against the claims they make.

For each strategy (default: the whole catalog) and each claim it declares (or the
``--claim`` ones), explore tier by tier and print the matrix, then each broken
cell's diagram with its saved trace and the command that replays it.
Each tier is searched exhaustively within the scope first (``--mode``), to
completion or to its budget (``--exhaustive-schedules``, a safety cap
``--exhaustive-seconds``), then randomly beyond it. Exit 0 when
every declared claim holds, 1 when one is broken, 2 on usage or environment
errors and when the harness itself failed on some schedule (a harness failure is
never a verdict; breaks found before it are still reported).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from cacherace.cli.args import (
    add_backend_arguments,
    backend_from_args,
    backend_options,
    jobs_count,
    use_color,
)
from cacherace.engine.engine import HarnessError
from cacherace.explore.cell import Budget, CellResult
from cacherace.explore.check import Undrivable, check_strategy, refuse_undrivable
from cacherace.explore.scope import Scope
from cacherace.explore.tiers import TIERS
from cacherace.properties import UnknownClaim, get_claim
from cacherace.report.trace import DEFAULT_DIR
from cacherace.servers import Backend, BackendError
from cacherace.strategies import Strategy
from cacherace.strategies.registry import CATALOG, StrategyError, load_strategy_spec

DEFAULT_EXAMPLES = 40
#: budget of each tier's systematic search of one strategy, in schedules (times the
#: tier's share, ``Budget.schedule_share``): deterministic, unlike a time cap
DEFAULT_EXHAUSTIVE_SCHEDULES = 1000
#: safety cap on each tier's systematic search of one strategy, in seconds
DEFAULT_EXHAUSTIVE_SECONDS = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategy", action="append", default=None, metavar="NAME",
        help="a catalog name, module:Class or path/to/file.py:Class (repeatable; "
        "default: the whole catalog)",
    )  # fmt: skip
    parser.add_argument("--claim", action="append", default=None, metavar="NAME",
                        help="check only these claims (repeatable; default: each "
                        "strategy's declared claims)")  # fmt: skip
    parser.add_argument("--max-examples", type=int, default=DEFAULT_EXAMPLES, metavar="N",
                        help="Hypothesis examples per tier and cell")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients (default 2)")
    parser.add_argument("--keys", type=int, default=1, help="keys in play (default 1)")
    parser.add_argument("--tier", choices=TIERS, default=None,
                        help="explore only up to this tier (default: all)")  # fmt: skip
    parser.add_argument("--mode", choices=("exhaustive", "random", "both"), default="both",
                        help="exhaustive: every schedule within the scope; random: "
                        "Hypothesis; both (default): exhaustive, then random")  # fmt: skip
    parser.add_argument("--exhaustive-schedules", type=int, default=DEFAULT_EXHAUSTIVE_SCHEDULES,
                        metavar="N", help="budget of each tier's exhaustive search of a "
                        "strategy, in schedules (time gets 2.5x, faults 0.5x, crashes 0.1x;"
                        f" default {DEFAULT_EXHAUSTIVE_SCHEDULES}; 0: no budget)")  # fmt: skip
    parser.add_argument("--exhaustive-seconds", type=float, default=DEFAULT_EXHAUSTIVE_SECONDS,
                        metavar="S", help="safety cap on each tier's exhaustive search of a "
                        f"strategy, in seconds (default {DEFAULT_EXHAUSTIVE_SECONDS:g}; 0: no "
                        "cap); verdicts then depend on the machine's speed")  # fmt: skip
    parser.add_argument("--preemptions", type=int, default=2, metavar="N",
                        help="preemption bound of the exhaustive search (default 2)")  # fmt: skip
    parser.add_argument("--jobs", default="1", metavar="N",
                        help="worker processes, each with its own servers (default 1)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the results as JSON")  # fmt: skip
    parser.add_argument("--html", type=Path, default=None, metavar="PATH",
                        help="write a self-contained HTML report")  # fmt: skip
    parser.add_argument("--junit", type=Path, default=None, metavar="PATH",
                        help="write the cells as JUnit XML (one test case per cell)")  # fmt: skip
    parser.add_argument("--trace-dir", type=Path, default=Path(DEFAULT_DIR),
                        help=f"where broken cells' traces go (default {DEFAULT_DIR})")  # fmt: skip
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_backend_arguments(parser)


def _fail(message: str) -> int:
    print(f"cacherace verify: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.exhaustive_seconds < 0 or args.exhaustive_schedules < 0 or args.preemptions < 0:
        return _fail("--exhaustive-seconds, --exhaustive-schedules and --preemptions must be"
                     " 0 or more")  # fmt: skip
    try:
        args.jobs = jobs_count(args.jobs)
    except ValueError as exc:
        return _fail(str(exc))
    for option in ("max_examples", "clients", "keys"):
        if getattr(args, option) < 1:
            flag = "--" + option.replace("_", "-")
            return _fail(f"{flag} must be at least 1, got {getattr(args, option)}")
    try:
        specs = args.strategy or list(CATALOG)
        strategies = [(spec, load_strategy_spec(spec)) for spec in specs]
        for spec, cls in strategies:
            refuse_undrivable(cls, spec)
        for name in args.claim or ():
            get_claim(name)
    except (StrategyError, UnknownClaim, Undrivable) as exc:
        return _fail(str(exc))
    tiers = TIERS[: TIERS.index(args.tier) + 1] if args.tier else TIERS
    budget = Budget(
        max_examples=args.max_examples, seed=args.seed, mode=args.mode,
        scope=Scope(clients=min(args.clients, 2), keys=min(args.keys, 1),
                    preemptions=args.preemptions),
        exhaustive_seconds=args.exhaustive_seconds or None,
        exhaustive_schedules=args.exhaustive_schedules or None,
    )  # fmt: skip
    try:
        backend = backend_from_args(args)
    except BackendError as exc:
        return _fail(str(exc))
    started = time.perf_counter()
    results: list[CellResult] = []
    try:
        with backend:
            if args.jobs > 1:
                results = _verify_parallel(backend, strategies, tiers, budget, args)
            for spec, cls in strategies if args.jobs == 1 else ():
                claims = list(args.claim or cls.claims)
                if not claims:
                    print(f"cacherace verify: {spec} declares no claims; pass --claim",
                          file=sys.stderr)  # fmt: skip
                results += _verify_strategy(backend, spec, cls, claims, tiers, budget, args)
    except BackendError as exc:
        return _fail(str(exc))
    except HarnessError as exc:
        return _fail(f"the harness stopped: {exc}")
    elapsed = time.perf_counter() - started
    _print_report(results, strategies, elapsed, args)
    _write_outputs(results, backend, args)
    declared = {(spec, c) for spec, cls in strategies for c in cls.claims}
    broken = [r for r in results if r.verdict == "broken" and (r.strategy, r.claim) in declared]
    if any(r.harness_error for r in results):
        print("cacherace verify: the harness failed on some schedule (see above); "
              "its verdicts are unknown, not holds", file=sys.stderr)  # fmt: skip
        return 2
    return 1 if broken else 0


def _verify_strategy(
    backend: Backend, spec: str, cls: type[Strategy], claims: list[str],
    tiers: tuple[str, ...], budget: Budget, args: argparse.Namespace,
) -> list[CellResult]:  # fmt: skip
    if not args.quiet:
        print(f"  {spec}: {', '.join(claims)} ...", file=sys.stderr, flush=True)
    out = check_strategy(
        backend, spec, claims, budget=budget, clients=args.clients, keys=args.keys,
        tiers=tiers, trace_dir=args.trace_dir,
    )  # fmt: skip
    if not args.quiet:
        for result in out:
            print(f"    {result.claim}: {_cell_text(result)} ({result.seconds:.1f}s)",
                  file=sys.stderr)  # fmt: skip
    return out


def _verify_parallel(
    backend: Backend, strategies: list[tuple[str, type[Strategy]]], tiers: tuple[str, ...],
    budget: Budget, args: argparse.Namespace,
) -> list[CellResult]:  # fmt: skip
    """``--jobs N``: see :mod:`cacherace.explore.parallel` for how the work is split."""
    from cacherace.explore.parallel import verify_parallel

    def done(spec: str, out: list[CellResult]) -> None:
        if not args.quiet:
            print(f"  {spec}:", file=sys.stderr)
            for r in out:
                print(f"    {r.claim}: {_cell_text(r)} ({r.seconds:.1f}s)", file=sys.stderr)

    pairs = [(spec, list(args.claim or cls.claims)) for spec, cls in strategies]
    for spec, claims in pairs:
        if not claims:
            print(f"cacherace verify: {spec} declares no claims; pass --claim", file=sys.stderr)
    return verify_parallel(
        backend, backend_options(args), [p for p in pairs if p[1]], jobs=args.jobs,
        budget=budget, clients=args.clients, keys=args.keys, tiers=tiers,
        trace_dir=str(args.trace_dir), on_done=done,
    )  # fmt: skip


def _cell_text(r: CellResult) -> str:
    if r.verdict == "broken":
        return f"BROKEN ({r.tier}, {r.steps} steps)"
    if r.verdict == "holds":
        if r.mode == "exhaustive":
            done = "" if r.complete else ", capped"
            return f"holds (exh {r.schedules}{done}; {r.examples} ex)"
        return f"holds ({r.examples} ex, {r.faults} faults)"
    return "ERROR" if r.harness_error else "unknown"


def _print_report(results: list[CellResult], strategies: list[tuple[str, type[Strategy]]],
                  elapsed: float, args: argparse.Namespace) -> None:  # fmt: skip
    claims: list[str] = []
    for r in results:
        if r.claim not in claims:
            claims.append(r.claim)
    cells = {(r.strategy, r.claim): r for r in results}
    width = max([len(s) for s, _ in strategies] + [8])
    col = max([len(c) for c in claims] + [len(_cell_text(r)) + 2 for r in results] + [8])
    print(f"{'strategy':<{width}}  " + "  ".join(f"{c:<{col}}" for c in claims))
    for spec, cls in strategies:
        row = []
        for c in claims:
            cell = cells.get((spec, c))
            text = "-" if cell is None else _cell_text(cell)
            if cell is not None and c not in cls.claims:
                text += " *"
            row.append(f"{text:<{col}}")
        print(f"{spec:<{width}}  " + "  ".join(row))
    if any(r.claim not in dict(strategies)[r.strategy].claims for r in results):
        print("* not claimed by the strategy (checked because --claim asked for it)")
    print(f"\n{len(results)} cells in {elapsed:.1f}s, seed {args.seed}, "
          f"{args.max_examples} examples per tier")  # fmt: skip
    for r in results:
        if r.verdict == "unknown":
            print(f"\n{r.strategy} × {r.claim}: unknown: {r.reason}")
        for warning in r.warnings:
            print(f"\n{r.strategy} × {r.claim}: warning: {warning}")
        if r.verdict == "holds":
            print(f"\n{r.strategy} × {r.claim}: holds: {r.evidence_text()}")
    color = use_color(args.color)
    for r in results:
        if r.broken is not None:
            print(f"\n{'=' * 78}\n{r.strategy} × {r.claim}: {r.reason}\n")
            if color:
                from cacherace.report.summary import describe_failure
                from cacherace.report.trace import load

                print(describe_failure(load(r.trace), r.trace, color=True) if r.trace else "")
            else:
                print(r.diagram or "")


def _write_outputs(results: list[CellResult], backend: Backend, args: argparse.Namespace) -> None:
    data: dict[str, Any] = {
        "backend": backend.name,
        "seed": args.seed,
        "results": [r.as_json() for r in results],
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    if args.junit is not None:
        from cacherace.report.junit import render_junit

        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(render_junit(data["results"]), encoding="utf-8")
    if args.html is not None:
        from cacherace.report.html import render_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(data["results"], backend=backend.name, seed=args.seed))
