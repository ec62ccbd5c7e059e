"""``cacherace verify --html``: one self-contained page, the matrix and the diagrams.

The input is the ``results`` list of ``--json`` (one dict per strategy x claim
cell)::

    {"strategy": str, "claim": str, "verdict": "holds" | "broken" | "unknown",
     "tier": str | None, "examples": int, "seconds": float, "steps": int | None,
     "trace": str | None, "diagram": str | None, "reason": str}

plus, when present, ``faults`` (int: faults injected while exploring) and
``needed`` (list of fault kinds the broken schedule needs), as
``explore.CellResult.as_json`` gives them.

Each broken cell's diagram is drawn as SVG from its trace (:mod:`cacherace.report.svg`).
No scripts, no external assets: the page opens the same from a CI artifact, an
e-mail attachment or a file on disk. Every text from a result is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from cacherace.report.summary import trace_scripts
from cacherace.report.svg import CSS as SVG_CSS
from cacherace.report.svg import render_svg
from cacherace.report.trace import Trace, TraceError, dashed, load

CellResult = Mapping[str, Any]


def plain(text: str) -> str:
    """``text`` without ANSI colour codes (``ESC [ ... m``)."""
    out, at = [], 0
    while (hit := text.find("\x1b[", at)) >= 0:
        end = text.find("m", hit)
        if end < 0:
            break
        out.append(text[at:hit])
        at = end + 1
    return "".join(out) + text[at:]


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1d1d1f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.meta { color: #666; }
table.matrix { border-collapse: collapse; margin: 1em 0; }
.matrix th, .matrix td { border: 1px solid #ccc; padding: .35em .6em; vertical-align: top; }
.matrix thead th { background: #f4f4f6; }
.matrix tbody th { text-align: left; white-space: nowrap; }
td.holds { background: #e9f7ec; } td.broken { background: #fde8e8; }
td.unknown { background: #fff6dd; } td.none { color: #aaa; text-align: center; }
.v { font-weight: 600; } .d { display: block; color: #555; font-size: .85em; }
td.broken a { color: #a4161a; }
pre { background: #fafafa; border: 1px solid #ddd; padding: .8em; overflow-x: auto;
      font: 12.5px/1.3 ui-monospace, Menlo, Consolas, monospace; }
code { background: #f4f4f6; padding: 0 .25em; }
"""


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def anchor(result: CellResult) -> str:
    """The id of a broken cell's section (letters, digits and dashes only)."""
    raw = f"{result.get('strategy', '')}--{result.get('claim', '')}"
    return "cell-" + dashed(raw).strip("-")


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _cell(result: CellResult | None) -> str:
    if result is None:
        return '<td class="none" title="not claimed">-</td>'
    verdict = str(result.get("verdict", "unknown"))
    kind = verdict if verdict in ("holds", "broken", "unknown") else "unknown"
    seconds = result.get("seconds")
    took = f", {float(seconds):.1f} s" if isinstance(seconds, int | float) else ""
    if kind == "holds":
        tier = f", up to {_text(result['tier'])}" if result.get("tier") else ""
        faults = result.get("faults")
        injected = f", {int(faults)} faults" if isinstance(faults, int) else ""
        detail = f"{int(result.get('examples') or 0)} examples{injected}{tier}{took}"
        head = '<span class="v">holds</span>'
    elif kind == "broken":
        steps = result.get("steps")
        parts = [_text(result.get("tier") or "broken")]
        if steps is not None:
            parts.append(f"{int(steps)} steps")
        if result.get("needed"):
            parts.append("needs " + _text(", ".join(map(str, result["needed"]))))
        detail = ", ".join(parts)
        head = f'<a class="v" href="#{anchor(result)}">broken</a>'
    else:
        detail = _text(result.get("reason") or "undecided")
        head = '<span class="v">unknown</span>'
    title = _text(result.get("reason") or "")
    return f'<td class="{kind}" title="{title}">{head}<span class="d">{detail}</span></td>'


def _matrix(results: Sequence[CellResult]) -> str:
    strategies = _ordered(str(r["strategy"]) for r in results)
    claims = _ordered(str(r["claim"]) for r in results)
    by_cell = {(str(r["strategy"]), str(r["claim"])): r for r in results}
    head = "".join(f"<th>{_text(c)}</th>" for c in claims)
    rows = []
    for s in strategies:
        cells = "".join(_cell(by_cell.get((s, c))) for c in claims)
        rows.append(f"<tr><th>{_text(s)}</th>{cells}</tr>")
    return (
        '<table class="matrix"><thead><tr><th>strategy \\ claim</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _trace_of(result: CellResult, traces: Mapping[str, Trace] | None) -> Trace | None:
    path = result.get("trace")
    if not path:
        return None
    if traces is not None and str(path) in traces:
        return traces[str(path)]
    try:
        return load(str(path))
    except TraceError:
        return None  # moved or deleted since: the text diagram stands in


def _broken_section(result: CellResult, traces: Mapping[str, Trace] | None = None) -> str:
    title = f"{_text(result['strategy'])} breaks {_text(result['claim'])}"
    lines = [f'<section id="{anchor(result)}"><h2>{title}</h2>']
    if result.get("reason"):
        lines.append(f"<p>{_text(result['reason'])}</p>")
    facts = []
    if result.get("tier"):
        facts.append(f"tier: {_text(result['tier'])}")
    if result.get("steps") is not None:
        facts.append(f"minimal schedule: {int(result['steps'])} steps")
    if facts:
        lines.append(f'<p class="meta">{"; ".join(facts)}</p>')
    if result.get("trace"):
        path = _text(result["trace"])
        lines.append(
            f"<p>trace <code>{path}</code>; replay: <code>cacherace replay {path}</code></p>"
        )
    trace = _trace_of(result, traces)
    if trace is not None:
        lines.append(
            render_svg(
                trace.history, trace.verdict, prefix=trace.settings.get("prefix"),
                scripts=trace_scripts(trace),
            )
        )  # fmt: skip
        lines.append('<p class="meta">Hover or click a step for its full command, '
                     "parameters and result.</p>")  # fmt: skip
    if result.get("diagram"):
        pre = f"<pre>{_text(plain(str(result['diagram'])))}</pre>"
        lines.append(
            pre if trace is None else f"<details><summary>as text</summary>{pre}</details>"
        )
    lines.append("</section>")
    return "\n".join(lines)


def render_html(
    results: Sequence[CellResult],
    *,
    title: str = "cacherace verify",
    backend: str | None = None,
    seed: int | None = None,
    traces: Mapping[str, Trace] | None = None,
) -> str:
    """The whole page for ``results`` (the ``--json`` results list, see the module doc).

    A broken cell's diagram is drawn from its trace (``traces`` by path, else the
    file at ``trace``); the text diagram stands in when the trace cannot be read.
    """
    counts = {
        k: sum(1 for r in results if r.get("verdict") == k) for k in ("holds", "broken", "unknown")
    }
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    meta = [summary]
    if backend:
        meta.append(f"backend {_text(backend)}")
    if seed is not None:
        meta.append(f"seed {_text(seed)}")
    sections = [_broken_section(r, traces) for r in results if r.get("verdict") == "broken"]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_text(title)}</title><style>{_CSS}{SVG_CSS}</style></head><body>",
            f"<h1>{_text(title)}</h1>",
            f'<p class="meta">{"; ".join(meta)}</p>',
            _matrix(results) if results else "<p>No results.</p>",
            *sections,
            "</body></html>",
            "",
        ]
    )
