"""What a trace replayed as a regression test says when it does not answer as
expected: the verdict of this run, where the run left the recorded history, and
the diagram (both histories side by side from the first difference)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cacherace.report.diagram import render, render_summary
from cacherace.report.sidebyside import side_by_side
from cacherace.report.summary import trace_scripts
from cacherace.report.trace import Trace

if TYPE_CHECKING:
    from cacherace.explore.replay import ReplayResult

EXPECTATIONS = ("broken", "holds")


def met(result: ReplayResult, expect: str) -> bool:
    """``broken``: the claim still breaks on this run; ``holds``: it holds."""
    return result.verdict.broken if expect == "broken" else result.verdict.status.value == "holds"


def regression_report(
    path: str | os.PathLike[str], trace: Trace, result: ReplayResult, expect: str
) -> str:
    v = result.verdict
    lines = [
        f"{path}: expected {trace.strategy}'s claim {trace.claim} to be {expect} on the "
        f"trace's schedule; this run: {render_summary(v)}",
    ]
    if result.first_difference is None:
        lines.append("the run followed the recorded history exactly")
    else:
        lines.append(f"the run left the recorded history: {result.first_difference}")
    lines.append("")
    prefix, scripts = trace.settings.get("prefix"), trace_scripts(trace)
    if result.diverged_at is None:
        lines.append(render(result.history, v, prefix=prefix, scripts=scripts))
    else:
        lines.append(side_by_side(trace.history, trace.verdict, result.history, v,
                                  result.diverged_at, prefix=prefix, scripts=scripts))  # fmt: skip
    lines += ["", f"replay: cacherace replay {path}"]
    return "\n".join(lines)
