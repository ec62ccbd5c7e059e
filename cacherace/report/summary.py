"""Failure summaries: what a broken claim prints (verify, the pytest plugin)."""

from __future__ import annotations

import os

from cacherace.report.diagram import render, render_summary
from cacherace.report.trace import Trace


def describe_failure(
    trace: Trace, path: str | os.PathLike[str] | None, *, color: bool = False
) -> str:
    """What a broken claim prints (verify, the pytest plugin): the one-line verdict,
    the diagram, where the trace is and the command that replays it."""
    lines = [
        f"{trace.strategy}: {render_summary(trace.verdict)}",
        "",
        render(trace.history, trace.verdict, color=color, prefix=trace.settings.get("prefix")),
    ]
    if path is not None:
        lines += ["", f"trace: {path}", f"replay: cacherace replay {path}"]
    return "\n".join(lines)
