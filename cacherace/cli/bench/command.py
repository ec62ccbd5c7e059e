"""``cacherace bench``: how thin the harness is, how fast it finds each race and how
small it shrinks it, side by side with the same code in free-running threads.

JSON on stdout (schema in the README's Performance section), progress on stderr.
Exit 0 on success, 2 on usage or environment errors.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Any

from cacherace.cli.args import add_backend_arguments, backend_from_args
from cacherace.cli.bench import baseline as bench_baseline
from cacherace.cli.bench import races as bench_races
from cacherace.cli.bench import step as bench_step
from cacherace.cli.bench.aio_step import measure_async_steps
from cacherace.engine.engine import HarnessError
from cacherace.servers import Backend, BackendError
from cacherace.strategies import CATALOG

#: Faults need the harness; threads alone produce none of them.
THREADS_CANNOT = "threads alone cannot produce"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=5, metavar="N",
                        help="Hypothesis seeds per broken cell (default 5)")  # fmt: skip
    parser.add_argument(
        "--budget", type=float, default=5.0, metavar="SECONDS",
        help="wall time of each race's free-running baseline, and the cap on each "
        "seed's search before its first failure (default 5)",
    )  # fmt: skip
    parser.add_argument("--strategy", action="append", default=None, metavar="NAME",
                        help="only these catalog strategies (repeatable)")  # fmt: skip
    parser.add_argument("--claim", action="append", default=None, metavar="NAME",
                        help="only these claims (repeatable)")  # fmt: skip
    parser.add_argument("--from-verify", type=Path, default=None, metavar="PATH",
                        help="take the broken cells from a `cacherace verify --json` file "
                        "instead of discovering them")  # fmt: skip
    parser.add_argument(
        "--discover-examples",
        type=int,
        default=100,
        metavar="N",
        help="examples per tier when discovering broken cells (default 100)",
    )
    parser.add_argument("--max-examples", type=int, default=500, metavar="N",
                        help="Hypothesis examples per seed at most (default 500)")  # fmt: skip
    parser.add_argument(
        "--step-cycles",
        type=int,
        default=2000,
        metavar="N",
        help="cycles of the five-call mix timed each way (default 2000)",
    )
    parser.add_argument(
        "--schedule-seconds",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long to run random three-client schedules (default 3)",
    )
    parser.add_argument(
        "--only",
        choices=("step", "aio-step", "schedules", "races"),
        action="append",
        default=None,
        help="run only these parts (repeatable; default: all); the JSON keeps its keys",
    )
    add_backend_arguments(parser)


def _fail(message: str) -> int:
    print(f"cacherace bench: {message}", file=sys.stderr)
    return 2


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.budget <= 0 or args.max_examples < 1 or args.step_cycles < 1:
        return _fail("--seeds, --budget, --max-examples and --step-cycles must be positive")
    strategies = args.strategy or list(CATALOG)
    unknown = [s for s in strategies if s not in CATALOG]
    if unknown:
        known = ", ".join(CATALOG)
        return _fail(f"unknown strategy {', '.join(unknown)}; the catalog has: {known}")
    if args.from_verify is not None and not args.from_verify.is_file():
        return _fail(f"no such verify JSON: {args.from_verify}")
    try:
        backend = backend_from_args(args)
    except BackendError as exc:
        return _fail(str(exc))
    try:
        with backend:
            out = _bench(backend, strategies, args)
    except BackendError as exc:
        return _fail(str(exc))
    except HarnessError as exc:
        return _fail(f"the harness stopped: {exc}")
    out["memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=2))
    return 0


def _bench(backend: Backend, strategies: list[str], args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    parts = set(args.only or ("step", "aio-step", "schedules", "races"))
    redis_server, pg_server = backend.redis("none"), backend.postgres()
    step: dict[str, float] = {}
    if "step" in parts:
        _note(f"step: {args.step_cycles} cycles of {', '.join(bench_step.CALLS)}, "
              "raw vs controlled")  # fmt: skip
        figures = bench_step.measure_steps(redis_server, pg_server, cycles=args.step_cycles)
        step = figures.as_json()
        for call, (raw, controlled) in figures.by_call().items():
            _note(f"  {call:<7} raw {raw:6.1f} us  controlled {controlled:6.1f} us  "
                  f"x{controlled / raw:.2f}")  # fmt: skip
        _note(f"  median: {step}")
    aio: dict[str, float] = {}
    if "aio-step" in parts:
        _note("aio-step: the same calls awaited (redis.asyncio, AsyncConnection)")
        figures = measure_async_steps(redis_server, pg_server, cycles=args.step_cycles)
        aio = figures.as_json()
        for call, (raw, controlled) in figures.by_call().items():
            _note(f"  {call:<7} raw {raw:6.1f} us  controlled {controlled:6.1f} us  "
                  f"x{controlled / raw:.2f}")  # fmt: skip
        _note(f"  median: {aio}")
    rate = 0.0
    if "schedules" in parts:
        rate, count = bench_step.schedules_per_second(
            redis_server, pg_server, seconds=args.schedule_seconds
        )
        _note(f"schedules: {count} three-client cache-aside schedules, {rate:.0f}/s")
    races = _races(backend, strategies, args) if "races" in parts else []
    _note(f"done in {time.perf_counter() - started:.0f}s")
    return {
        "step": step,
        "aio_step": aio,
        "schedules_per_s": round(rate, 1),
        "memory_mb": 0.0,
        "races": races,
    }


def _races(backend: Backend, strategies: list[str], args: argparse.Namespace) -> list[dict]:
    if args.from_verify is not None:
        cells = [c for c in bench_races.from_verify(args.from_verify) if c.strategy in strategies]
    else:
        _note(f"races: discovering broken cells ({args.discover_examples} examples per tier)")
        cells = bench_races.discover(backend, strategies, args.discover_examples)
    if args.claim:
        cells = [c for c in cells if c.claim in args.claim]
    rows: list[dict[str, Any]] = []
    jobs: list[bench_baseline.Job] = []
    for cell in cells:
        _note(f"  {cell.strategy} x {cell.claim} ({cell.tier}), {args.seeds} seeds")
        runs = bench_races.measure(backend, cell, args.seeds, args.max_examples, args.budget)
        row = bench_races.summarize(cell, runs)
        row.update(bench_races.measure_exhaustive(backend, cell, args.budget))
        needed = bench_races.needed_by(runs)
        if needed or cell.tier != "concurrency":
            row["baseline"] = _unreachable(cell, needed, args.budget)
        else:
            redis_server = backend.redis(CATALOG[cell.strategy].persistence)
            jobs.append(bench_baseline.Job(cell.strategy, cell.claim,
                                           (redis_server.host, redis_server.port),
                                           backend.postgres().conninfo(), args.budget))  # fmt: skip
            row["baseline"] = None
        rows.append(row)
    if jobs:
        _note(f"baseline: {len(jobs)} races in free-running threads, {args.budget:g}s each")
        outcomes = _run_baselines(jobs)
        pending = iter(outcomes)
        for row in rows:
            if row["baseline"] is None:
                o = next(pending)
                row["baseline"] = {
                    "seconds": o.seconds, "violations": o.violations,
                    "first_detection_s": o.first_detection_s, "reachable": True,
                    "rounds": o.rounds,
                }  # fmt: skip
                _note(f"  {row['strategy']} x {row['claim']}: {o.violations} violations in "
                      f"{o.rounds} rounds, first at {o.first_detection_s}s")  # fmt: skip
    return rows


def _unreachable(cell: bench_races.Cell, needed: list[str], budget: float) -> dict[str, Any]:
    if needed:
        why = f"the shortest failing schedule needs {', '.join(needed)}, which {THREADS_CANNOT}"
    elif cell.tier == "time":
        why = "the race needs virtual time to pass; free-running threads cannot advance it"
    else:
        why = f"broken only with faults, which {THREADS_CANNOT}"
    return {"seconds": 0.0, "violations": 0, "first_detection_s": None, "reachable": False,
            "note": why}  # fmt: skip


def _run_baselines(jobs: list[bench_baseline.Job]) -> list[bench_baseline.Outcome]:
    """In a spawned process: no interception installed, no greenlets, plain drivers."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(bench_baseline.run_all, jobs).result()
