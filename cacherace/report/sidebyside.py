"""Two histories side by side from the event where they first differ: what
``cacherace replay`` draws when a trace no longer reproduces (the strategy
changed, or the servers behave differently)."""

from __future__ import annotations

from collections.abc import Mapping

from cacherace.model.history import History
from cacherace.model.verdict import Verdict
from cacherace.report.diagram import render, render_summary, terminal_width, wrap

GUTTER = " ┃ "


def _rows_from(diagram: str, start: int) -> list[str]:
    """The header lines, then every row from the first event numbered ``start`` or later."""
    lines = diagram.split("\n")
    head, rows = lines[:2], lines[2:]
    for i, line in enumerate(rows):
        number = line[:3].strip()
        if number.isdigit() and int(number) >= start:
            return head + rows[i:]
    return head


def side_by_side(
    recorded: History,
    recorded_verdict: Verdict,
    new: History,
    new_verdict: Verdict,
    start: int,
    *,
    prefix: str | None = "cr:",
    scripts: Mapping[str, str] | None = None,
    width: int | None = None,
) -> str:
    """The recorded history (left) and the new one (right), each from event ``start``
    (the first difference), with each verdict below its column."""
    width = width or terminal_width()
    half = (width - len(GUTTER)) // 2
    sides = []
    for title, history, verdict in (
        ("recorded (trace)", recorded, recorded_verdict),
        ("this run", new, new_verdict),
    ):
        diagram = render(history, verdict, prefix=prefix, scripts=scripts, width=half)
        body = _rows_from(diagram.split("\n\n")[0], start)
        summary = wrap(render_summary(verdict), half).split("\n")
        sides.append([title, *body, "", *summary])
    n = max(len(s) for s in sides)
    left, right = (s + [""] * (n - len(s)) for s in sides)
    out = [f"first difference at event #{start}:"]
    out += [f"{a:<{half}}{GUTTER}{b}".rstrip() for a, b in zip(left, right, strict=True)]
    return "\n".join(out)
