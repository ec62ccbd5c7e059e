"""Failure summaries: what a broken claim prints (verify, the pytest plugin)."""

from __future__ import annotations

import os

from cacherace.report.diagram import render, render_summary, terminal_width, wrap
from cacherace.report.steps import script_names
from cacherace.report.trace import Trace


def trace_scripts(trace: Trace) -> dict[str, str]:
    """The names of the Lua scripts the trace's strategy holds (none when the
    strategy cannot be imported here: the diagram then shows first lines or SHAs)."""
    from cacherace.strategies.registry import StrategyError, load_strategy_spec

    try:
        return script_names(load_strategy_spec(trace.strategy))
    except (StrategyError, ImportError, OSError):
        return {}


def describe_failure(
    trace: Trace,
    path: str | os.PathLike[str] | None,
    *,
    color: bool = False,
    width: int | None = None,
) -> str:
    """What a broken claim prints (verify, the pytest plugin): the one-line verdict,
    the diagram, where the trace is and the command that replays it."""
    width = width or terminal_width()
    lines = [
        wrap(f"{trace.strategy}: {render_summary(trace.verdict)}", width),
        "",
        render(
            trace.history,
            trace.verdict,
            color=color,
            prefix=trace.settings.get("prefix"),
            scripts=trace_scripts(trace),
            width=width,
        ),
    ]
    if path is not None:
        lines += ["", f"trace: {path}", f"replay: cacherace replay {path}"]
    return "\n".join(lines)
