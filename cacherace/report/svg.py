"""A history as an SVG sequence diagram, for the HTML report.

One lane per client and actor, then Redis, then PostgreSQL; one row per event.
A step is an arrow from its process's lane to the server it called; an operation
is a bar on its lane from invoke to completion, coloured by its outcome. Faults,
time advances, database commits and the settled end state are marked on their
rows; the verdict's witness rows are highlighted, the broken one in red.

Hovering a step (or focusing it: click, or Tab) shows its full command, its
parameters and its result, untruncated, in a panel drawn as HTML next to the
SVG: plain CSS (``:has``), no script, so the page stays one self-contained file.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from cacherace.engine.drivers.calls import LOCAL, POSTGRES, REDIS
from cacherace.model.history import (
    Complete,
    DbChange,
    Delivery,
    EndState,
    Event,
    Fault,
    History,
    Invoke,
    Step,
    TimeAdvance,
    Wait,
)
from cacherace.model.verdict import Verdict
from cacherace.report.steps import describe, fit, fit_words, strip_prefix

ROW = 26  # px per event
TOP = 48  # room for the lane names
LEFT = 70
PROCESS_GAP = 150
SERVER_GAP = 380
CHAR = 7.2  # px per character of the 12px monospace labels (for fitting labels)

CSS = """
.seq { position: relative; margin: 1em 0; }
.seq svg { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #fff; }
.seq .lane line { stroke: #9aa0a6; stroke-dasharray: 4 4; }
.seq .lane, .seq .op, .seq .time, .seq .db, .seq .end { pointer-events: none; }
.seq .lane text { font-weight: 700; text-anchor: middle; }
.seq .server line { stroke: #3c4043; stroke-dasharray: none; stroke-width: 2; }
.seq .op rect { stroke-width: 1; }
.seq .op.ok rect { fill: #d7f0dd; stroke: #2e7d32; }
.seq .op.fail rect { fill: #eceff1; stroke: #607d8b; }
.seq .op.info rect, .seq .op.open rect { fill: #ffe8cc; stroke: #e8710a; }
.seq .arrow { stroke: #1a73e8; stroke-width: 1.6; }
.seq .head { fill: #1a73e8; } .seq .step.failed .head { fill: #c5221f; }
.seq .step.failed .arrow { stroke: #c5221f; }
.seq .step.local .arrow { stroke-dasharray: 3 3; } .seq .delivery text { fill: #137333; }
.seq .step text { fill: #174ea6; }
.seq .step { cursor: pointer; outline: none; }
.seq .step .hit { fill: transparent; }
.seq .step:hover .hit, .seq .step:focus .hit { fill: #e8f0fe; }
.seq .fault text { fill: #c5221f; font-weight: 700; } .seq .wait text { fill: #b06000; }
.seq .time line { stroke: #7b1fa2; stroke-dasharray: 6 3; }
.seq .time text { fill: #7b1fa2; }
.seq .db circle { fill: #0d652d; } .seq .db text { fill: #0d652d; }
.seq .end rect.band { fill: #5f6368; fill-opacity: .12; } .seq .end text { font-weight: 700; }
.seq .end .differs { fill: #c5221f; }
.seq .witness { fill: #fef7e0; } .seq .broken { fill: #fce8e6; }
.seq .mark { font-weight: 700; fill: #b06000; } .seq .mark.broken-mark { fill: #c5221f; }
.seq .detail { visibility: hidden; position: absolute; z-index: 2; max-width: 640px;
  background: #fff; border: 1px solid #5f6368; border-radius: 4px; padding: .4em .6em;
  box-shadow: 0 2px 8px rgba(0,0,0,.25); font: 12px/1.4 ui-monospace, Menlo, monospace; }
.seq .detail div { white-space: pre-wrap; overflow-wrap: anywhere; }
.seq .detail b { font-family: system-ui, sans-serif; }
"""


def _process_order(history: History) -> list[str]:
    seen: dict[str, None] = {}
    for e in history.events:
        name = getattr(e, "process", None)
        if name:
            seen.setdefault(name)
    clients = [p for p in seen if p[:1] == "c" and p[1:].isdigit()]
    clients.sort(key=lambda p: int(p[1:]))
    return clients + [p for p in seen if p not in clients]


def _t(value: object) -> str:
    return escape("" if value is None else str(value))


class _Drawing:
    """Lane positions and the SVG/HTML fragments of one diagram."""

    def __init__(self, history: History, prefix: str | None, names: Mapping[str, str]) -> None:
        self.prefix, self.names = prefix, names
        self.processes = _process_order(history)
        self.x = {p: LEFT + i * PROCESS_GAP for i, p in enumerate(self.processes)}
        self.x[REDIS] = LEFT + max(0, len(self.processes) - 1) * PROCESS_GAP + SERVER_GAP
        self.x[POSTGRES] = self.x[REDIS] + SERVER_GAP
        self.width = self.x[POSTGRES] + 300
        rows = sum(1 + (len(e.cache | e.db) if isinstance(e, EndState) else 0) for e in history)
        self.height = TOP + rows * ROW + 20
        self.svg: list[str] = []
        self.details: list[str] = []
        self.row_of: dict[int, int] = {}

    def y(self, row: int) -> float:
        return TOP + row * ROW + ROW / 2

    def text(self, x: float, y: float, s: str, cls: str = "", anchor: str = "start") -> str:
        c = f' class="{cls}"' if cls else ""
        return f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="{anchor}"{c}>{_t(s)}</text>'

    def lanes(self) -> None:
        for name in reversed([*self.processes, REDIS, POSTGRES]):
            server = " server" if name in (REDIS, POSTGRES) else ""
            x = self.x[name]
            self.svg.insert(
                0,
                f'<g class="lane{server}" data-lane="{_t(name)}">'
                f'<line x1="{x}" y1="{TOP - 8}" x2="{x}" y2="{self.height - 10}"/>'
                f"{self.text(x, TOP - 26, name, anchor='middle')}</g>",
            )

    def step(self, e: Step, row: int) -> None:
        st = describe(e, self.prefix, self.names)
        y = self.y(row)
        lane = REDIS if e.target == LOCAL else e.target  # a local hit: drawn short of Redis
        start = self.x.get(e.process, self.x[lane] - 120)
        end = self.x[lane] - (60 if e.target == LOCAL else 0)
        room = int((end - start - 16) / CHAR)
        failed = " failed" if e.error or e.injected else ""
        local = " local" if e.target == LOCAL else ""
        self.svg.append(
            f'<g class="step{failed}{local}" data-i="{e.index}" tabindex="0">'
            f'<rect class="hit" x="{start}" y="{y - ROW / 2}" width="{end - start}" '
            f'height="{ROW}"/>'
            f'<line class="arrow" x1="{start}" y1="{y + 6}" x2="{end - 3}" y2="{y + 6}"/>'
            f'<path class="head" d="M{end - 10} {y + 1.5}L{end - 1} {y + 6}'
            f'L{end - 10} {y + 10.5}z"/>'
            f"{self.text(start + 8, y - 4, fit(st, max(room, 12)))}</g>"
        )
        parts = [("command", e.command)]
        if e.args:
            parts.append(("parameters" if e.target == POSTGRES else "arguments", ", ".join(e.args)))
        if e.rows is not None:
            rows = "\n".join(", ".join("NULL" if v is None else str(v) for v in r) for r in e.rows)
            parts.append(("rows", rows or "(no row)"))
        if e.result:
            parts.append(("result", e.result))
        if e.error:
            parts.append(("error", e.error))
        if e.injected:
            parts.append(("injected fault", e.injected))
        body = "".join(f'<b>{k}</b><div class="{k}">{_t(v)}</div>' for k, v in parts)
        self.details.append(
            f'<div class="detail" data-i="{e.index}" style="left:{start + 20}px;'
            f'top:{y + ROW / 2 + 2:.0f}px"><div class="head"><b>#{e.index} {_t(e.process)} → '
            f"{e.target}</b></div>{body}</div>"
        )

    def event(self, e: Event, row: int) -> None:
        y = self.y(row)
        if isinstance(e, Step):
            self.step(e, row)
        elif isinstance(e, Fault):
            lane = e.process if e.process in self.x else POSTGRES if e.fault[:3] == "db-" else REDIS
            what = e.fault + (f" {e.key}" if e.key else "")
            full = what + (f" ({strip_prefix(e.detail, self.prefix)})" if e.detail else "")
            # A process's fault names the call it hits: that call is the next arrow.
            shown = f"↯ {what} (next call)" if e.process in self.x else f"✗ {full}"
            self.svg.append(
                f'<g class="fault" data-i="{e.index}"><title>{_t(full)}</title>'
                f"{self.text(self.x[str(lane)] + 10, y, fit_text(shown, 52))}</g>"
            )
        elif isinstance(e, TimeAdvance):
            expired = ", ".join(strip_prefix(k, self.prefix) for k in e.expired)
            label = f"t={e.time:g}s (+{e.delta:g}s" + (f"; expired: {expired})" if expired else ")")
            self.svg.append(
                f'<g class="time" data-i="{e.index}"><line x1="{LEFT - 40}" y1="{y}" '
                f'x2="{self.width - 20}" y2="{y}"/>{self.text(LEFT - 36, y - 6, label)}</g>'
            )
        elif isinstance(e, Delivery) and e.process in self.x:
            keys = ", ".join(strip_prefix(k, self.prefix) for k in e.keys)
            self.svg.append(
                f'<g class="delivery" data-i="{e.index}"><title>invalidations arrived</title>'
                f"{self.text(self.x[e.process] + 10, y, f'⇠ invalidated {keys}')}</g>"
            )
        elif isinstance(e, Wait) and e.process in self.x:
            whom = f" (held by {', '.join(e.on)})" if e.on else ""
            took = f"waited {e.time - e.since:g}s" if e.ended else "waits forever"
            self.svg.append(
                f'<g class="wait" data-i="{e.index}"><title>{_t(e.what)}</title>'
                f"{self.text(self.x[e.process] + 10, y, f'⧗ {took}{whom}')}</g>"
            )
        elif isinstance(e, DbChange):
            how = "deleted" if e.value is None else f":= {e.value}"
            after = "" if e.step is not None else " (after recovery)"
            x = self.x[POSTGRES]
            self.svg.append(
                f'<g class="db" data-i="{e.index}"><circle cx="{x}" cy="{y}" r="4"/>'
                f"{self.text(x + 10, y, f'{e.key} {how}{after}')}</g>"
            )

    def operations(self, history: History) -> None:
        last = max(self.row_of.values(), default=0)
        for op in history.operations():
            if op.process not in self.x:
                continue
            top = self.y(self.row_of[op.invoke.index]) - 8
            end = self.row_of[op.complete.index] if op.complete else last
            bottom = self.y(end) + 8
            kind = op.complete.type.value if op.complete else "open"
            x = self.x[op.process]
            inv = op.invoke
            label = f"{inv.f} {inv.key or ''}"
            if inv.f == "write":
                label = f"write {inv.key}={inv.value}"
            done = ""
            if op.complete:
                c = op.complete
                res = "" if c.value is None else f" {c.value}"
                err = f": {c.error.replace('cacherace: ', '')}" if c.error else ""
                done = self.text(x + 10, bottom - 8, fit_text(f"{kind}{res}{err}", 40))
            self.svg.insert(
                0,
                f'<g class="op {kind}" data-process="{_t(op.process)}"><title>{_t(label)}'
                f'</title><rect x="{x - 5}" y="{top}" width="10" height="{bottom - top}" rx="3"/>'
                f"{self.text(x + 10, top + 8, label.strip())}{done}</g>",
            )

    def end_state(self, e: EndState, row: int, marked: bool) -> int:
        y = self.y(row)
        head = "end: settled" if e.settled else f"end: NOT settled ({e.reason})"
        self.svg.append(
            f'<g class="end" data-i="{e.index}"><rect class="band" x="{LEFT - 40}" '
            f'y="{y - ROW / 2}" width="{self.width - LEFT + 20}" height="{ROW}"/>'
            f"{self.text(LEFT - 36, y, head)}</g>"
        )
        for key in sorted(set(e.cache) | set(e.db)):
            row += 1
            y = self.y(row)
            cached, stored = e.cache.get(key), e.db.get(key)
            differs = cached is not None and cached != stored
            cls = "differs" if differs else ""
            cache_text = f"{key} = {'nil' if cached is None else cached}" + (
                " ≠" if differs else ""
            )
            self.svg.append(
                f'<g class="end">{self.text(self.x[REDIS] + 10, y, cache_text, cls)}'
                f"{self.text(self.x[POSTGRES] + 10, y, f'{key} = {stored}')}</g>"
            )
        return row


def fit_text(s: str, limit: int) -> str:
    return fit_words(s.split(" "), limit)


def render_svg(
    history: History,
    verdict: Verdict | None = None,
    *,
    prefix: str | None = "cr:",
    scripts: Mapping[str, str] | None = None,
) -> str:
    """The diagram as HTML: a ``div.seq`` holding the SVG and the steps' detail panels."""
    d = _Drawing(history, prefix, scripts or {})
    witness = verdict.witness if verdict is not None and verdict.broken else ()
    first = witness[0] if witness else None
    bands: list[str] = []
    marks: list[str] = []
    row = 0
    for e in history.events:
        d.row_of[e.index] = row
        if e.index in witness:
            cls, mark = ("broken", "◀ BROKEN") if e.index == first else ("witness", "◀ witness")
            y = d.y(row)
            bands.append(
                f'<rect class="{cls}" data-i="{e.index}" x="0" y="{y - ROW / 2}" '
                f'width="{d.width}" height="{ROW}"/>'
            )
            marks.append(d.text(d.width - 10, y, mark, f"mark {cls}-mark", "end"))
        if isinstance(e, EndState):
            row = d.end_state(e, row, e.index in witness)
        elif isinstance(e, Invoke | Complete):
            pass  # drawn with their operation's bar
        else:
            d.event(e, row)
        row += 1
    d.operations(history)
    d.lanes()  # first, under everything
    svg = (
        f'<svg width="{d.width}" height="{d.height}" '
        f'viewBox="0 0 {d.width} {d.height}" role="img">{"".join(bands)}'
        f"{''.join(d.svg)}{''.join(marks)}</svg>"
    )
    rules = "".join(
        f'.seq:has(.step[data-i="{e.index}"]:hover) .detail[data-i="{e.index}"],'
        f'.seq:has(.step[data-i="{e.index}"]:focus) .detail[data-i="{e.index}"]'
        "{visibility:visible}"
        for e in history.events
        if isinstance(e, Step)
    )
    return f'<div class="seq"><style>{rules}</style>{svg}{"".join(d.details)}</div>'
