"""``cacherace replay TRACE.json``: re-run a saved schedule and say whether it reproduces.

Exit codes: 0 history and verdict reproduced (a broken claim is still broken),
1 not reproduced, 2 the trace, the servers or the arguments are unusable.
"""

from __future__ import annotations

import argparse
import sys

from cacherace.cli.args import add_backend_arguments, backend_from_args, use_color
from cacherace.engine.engine import HarnessError
from cacherace.explore.replay import ReplayError, ReplayResult, replay_trace
from cacherace.model.verdict import Verdict
from cacherace.report.diagram import render, render_summary
from cacherace.report.sidebyside import side_by_side
from cacherace.report.summary import trace_scripts
from cacherace.report.trace import Trace, TraceError, load
from cacherace.servers import BackendError


# -- the command ----------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE.json", help="a trace saved by cacherace verify")
    parser.add_argument("--quiet", action="store_true", help="do not print the diagram")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the diagram (auto: when writing to a terminal)",
    )
    add_backend_arguments(parser)


def _error(message: str) -> int:
    print(f"cacherace replay: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        trace = load(args.trace)
    except TraceError as exc:
        return _error(str(exc))
    try:
        backend = backend_from_args(args)
    except BackendError as exc:
        return _error(str(exc))
    with backend:
        try:
            result = replay_trace(trace, backend)
        except ReplayError as exc:
            return _error(f"{args.trace}: {exc}")
        except (BackendError, HarnessError) as exc:
            return _error(str(exc))
    print(
        f"replayed {args.trace}: {trace.strategy}, claim {trace.claim}, {trace.steps} steps, "
        f"{trace.clients} clients, keys {', '.join(trace.keys)}, Redis persistence "
        f"{trace.persistence}"
    )
    if not args.quiet:
        print()
        print(_diagram(trace, result, use_color(args.color)))
        print()
    print(_history_line(result))
    print(_verdict_line(trace.verdict, result))
    return 0 if result.reproduced else 1


def _diagram(trace: Trace, result: ReplayResult, color: bool) -> str:
    """The replay's diagram; when it departs from the trace, both histories side
    by side from the first difference."""
    prefix, scripts = trace.settings.get("prefix"), trace_scripts(trace)
    if result.diverged_at is None:
        return render(result.history, result.verdict, color=color, prefix=prefix, scripts=scripts)
    return side_by_side(
        trace.history, trace.verdict, result.history, result.verdict, result.diverged_at,
        prefix=prefix, scripts=scripts,
    )  # fmt: skip


def _history_line(result: ReplayResult) -> str:
    if result.same_history:
        return f"history: reproduced ({len(result.history)} events, identical)"
    return f"history: NOT reproduced - {result.first_difference}"


def _verdict_line(saved: Verdict, result: ReplayResult) -> str:
    if result.same_verdict:
        v = result.verdict
        witness = f", witness {', '.join(f'#{i}' for i in v.witness)}" if v.witness else ""
        return f"verdict: reproduced ({v.claim} {v.status.value}{witness})"
    return (
        f"verdict: NOT reproduced\n  trace:  {render_summary(saved)}\n"
        f"  replay: {render_summary(result.verdict)}"
    )
