"""A history as a sequence diagram a person reads in ten seconds.

One column per client and actor, one for Redis, one for PostgreSQL; one row per
event, in history order. A step is an arrow from its process to the server it
called, with the command (shortened) and its result; faults, time advances,
database commits and the end state are marked where they happened. The events a
broken verdict names are flagged: the offending one ``◀ BROKEN``, the others
``◀ witness`` (and coloured, when asked)::

      #  c0              c1              redis                          postgres
    ───  ──────────────  ──────────────  ─────────────────────────────  ──────────
      0  ┌ read k1
      1  ├────────────────────────────▶ GET k1 → nil
      ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cacherace.engine.drivers.calls import POSTGRES, REDIS
from cacherace.model.history import (
    Complete,
    DbChange,
    EndState,
    Event,
    Fault,
    History,
    Invoke,
    Outcome,
    Step,
    TimeAdvance,
    Wait,
)
from cacherace.model.verdict import Status, Verdict
from cacherace.report.steps import describe, fit, short_sql, strip_prefix

__all__ = ["describe_step", "render", "render_summary", "short_sql"]

REDIS_WIDTH = 30
PG_WIDTH = 34
MIN_PROCESS_WIDTH = 10
MAX_PROCESS_WIDTH = 16
INDEX_WIDTH = 5  # "  12 " before the first column

BROKEN_MARK = "◀ BROKEN"
WITNESS_MARK = "◀ witness"

_RED, _YELLOW, _DIM, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[1m", "\x1b[0m"


# -- steps ------------------------------------------------------------------------
def describe_step(
    step: Step, prefix: str | None = "cr:", limit: int | None = None,
    names: Mapping[str, str] = {},
) -> str:  # fmt: skip
    """A step's text as the diagram shows it: command, then → result or ✗ error.

    With ``limit``, whole words are left out of the middle so the command's name
    and key and the outcome stay visible.
    """
    st = describe(step, prefix, names)
    return st.full() if limit is None else fit(st, limit)


def _clip(s: str, limit: int) -> str:
    if limit <= 0:
        return ""
    return s if len(s) <= limit else s[: limit - 1] + "…"


# -- layout -----------------------------------------------------------------------
def _process_order(events: Iterable[Event]) -> list[str]:
    seen: dict[str, None] = {}
    for e in events:
        name = getattr(e, "process", None)
        if name:
            seen.setdefault(name)
    clients = sorted(
        (p for p in seen if p[:1] == "c" and p[1:].isdigit()), key=lambda p: int(p[1:])
    )
    return clients + [p for p in seen if p not in clients]


class _Layout:
    def __init__(self, processes: list[str], labels: list[str]) -> None:
        longest = max((len(s) for s in labels), default=0) + 2
        self.wp = max(MIN_PROCESS_WIDTH, min(MAX_PROCESS_WIDTH, longest))
        self.x = {p: INDEX_WIDTH + i * self.wp for i, p in enumerate(processes)}
        self.x[REDIS] = INDEX_WIDTH + len(processes) * self.wp + 1
        self.x[POSTGRES] = self.x[REDIS] + REDIS_WIDTH + 1
        self.width = self.x[POSTGRES] + PG_WIDTH

    def blank(self, alive: Iterable[str]) -> list[str]:
        row = [" "] * self.width
        for p in alive:
            row[self.x[p]] = "│"
        return row

    def put(self, row: list[str], x: int, text: str, limit: int) -> None:
        for i, ch in enumerate(_clip(text, limit)):
            row[x + i] = ch

    def free_from(self, row: list[str], x: int) -> int:
        """How many cells from ``x`` are free before the next lifeline or the servers."""
        end = self.x[REDIS] - 1
        n = 0
        while x + n < end and row[x + n] == " ":
            n += 1
        return n

    def note(self, row: list[str], p: str, text: str) -> None:
        """Text in a process's column, spilling right over free cells only."""
        x = self.x[p]
        self.put(row, x, text, max(self.wp - 1, self.free_from(row, x + 1) + 1))

    def arrow(self, row: list[str], p: str, target: str, step: Step, prefix: str | None,
              names: Mapping[str, str]) -> None:  # fmt: skip
        start, end = self.x[p], self.x[target]
        row[start] = "├"
        for i in range(start + 1, end - 1):
            row[i] = "┼" if row[i] == "│" else "─"
        row[end - 1] = "▶"
        limit = REDIS_WIDTH if target == REDIS else PG_WIDTH
        if target == REDIS:
            # A Redis step's text may run on into the postgres column when that is empty.
            limit += PG_WIDTH
        self.put(row, end + 1, describe_step(step, prefix, limit - 1, names), limit - 1)

    def rule(self, text: str, char: str = "─") -> list[str]:
        """A row across every column (time advances, the end state)."""
        span = self.width - INDEX_WIDTH
        body = _clip(f"{char * 2} {text} ", span).ljust(span, char)
        return [" "] * INDEX_WIDTH + list(body)


def _labels(history: History) -> list[str]:
    """What sizes the process columns: operation starts and ok results (error
    texts are longer; they spill over free cells or are clipped)."""
    out = []
    for e in history.events:
        if isinstance(e, Invoke):
            out.append(_invoke_text(e))
        elif isinstance(e, Complete) and e.type is Outcome.OK:
            out.append(_complete_text(e))
    return out


def _value(v: str | None) -> str:
    return "nil" if v is None else v


def _invoke_text(e: Invoke) -> str:
    if e.f == "write":
        return f"┌ write {e.key}={_value(e.value)}"
    parts = [e.f] + ([e.key] if e.key else [])
    return "┌ " + " ".join(parts)


def _complete_text(e: Complete) -> str:
    if e.type is Outcome.OK:
        return "└ ok" if e.f == "write" and e.value is None else f"└ ok {_value(e.value)}"
    err = (e.error or "").replace("cacherace: ", "")
    return f"└ {e.type.value}" + (f": {err}" if err else "")


_FAULT_TEXT = {
    "cache-crash": "✗ cache crash",
    "cache-restart": "↻ cache restart",
    "db-crash": "✗ db crash",
    "db-restart": "↻ db restart",
}


def _fault_row(lay: _Layout, row: list[str], e: Fault, prefix: str | None) -> None:
    if e.fault in ("client-crash", "fail-before", "fail-after") and e.process in lay.x:
        text = "✗ crashed" if e.fault == "client-crash" else f"↯ next call: {e.fault}"
        lay.note(row, e.process, text)
        return
    target = POSTGRES if e.fault.startswith("db-") else REDIS
    text = _FAULT_TEXT.get(e.fault, f"✗ {e.fault}")
    if e.fault == "evict":
        text = f"✗ evict {e.key}"
    if e.detail:
        text += f" ({strip_prefix(e.detail, prefix)})"
    lay.put(row, lay.x[target], text, REDIS_WIDTH + PG_WIDTH if target == REDIS else PG_WIDTH)


def _end_rows(lay: _Layout, e: EndState, marked: bool) -> list[tuple[list[str], bool]]:
    head = "end: settled" if e.settled else f"end: NOT settled ({e.reason})"
    rows: list[tuple[list[str], bool]] = [(lay.rule(head, "═"), False)]
    any_differs = False
    for key in sorted(set(e.cache) | set(e.db)):
        cached, stored = e.cache.get(key), e.db.get(key)
        differs = cached is not None and cached != stored
        any_differs |= differs
        row = lay.blank(())
        lay.put(
            row, lay.x[REDIS], f"{key} = {_value(cached)}" + ("  ≠" if differs else ""), REDIS_WIDTH
        )
        lay.put(row, lay.x[POSTGRES], f"{key} = {_value(stored)}", PG_WIDTH)
        rows.append((row, marked and differs))
    if marked and not any_differs:
        rows[0] = (rows[0][0], True)
    return rows


def render(
    history: History,
    verdict: Verdict | None = None,
    *,
    color: bool = False,
    prefix: str | None = "cr:",
    scripts: Mapping[str, str] | None = None,
) -> str:
    """The sequence diagram of ``history``; ``verdict``'s witness events are marked.

    ``scripts`` names Lua scripts by SHA1 (see :func:`~cacherace.report.steps.script_names`).

    ``prefix`` is the strategy's cache key prefix, left out of Redis keys to cut
    noise. ``color`` adds ANSI colours (red for the offending event, yellow for
    the rest of the witness); without it the markers alone carry the meaning.
    """
    processes = _process_order(history.events)
    lay = _Layout(processes, _labels(history))
    witness = verdict.witness if verdict is not None and verdict.broken else ()
    first = witness[0] if witness else None
    names = scripts or {}

    lines: list[str] = []
    header = [" "] * lay.width
    lay.put(header, 0, "  #", INDEX_WIDTH)
    for name in [*processes, REDIS, POSTGRES]:
        lay.put(header, lay.x[name], name, lay.wp - 1 if name in processes else PG_WIDTH)
    lines.append(_bold("".join(header).rstrip(), color))
    under = [" "] * lay.width
    lay.put(under, 0, "───", INDEX_WIDTH)
    for name in [*processes, REDIS, POSTGRES]:
        w = lay.wp - 2 if name in processes else (REDIS_WIDTH - 1 if name == REDIS else PG_WIDTH)
        lay.put(under, lay.x[name], "─" * w, w)
    lines.append("".join(under).rstrip())

    alive: set[str] = set()
    for e in history.events:
        mark = BROKEN_MARK if e.index == first else WITNESS_MARK if e.index in witness else ""
        if isinstance(e, EndState):
            for row, hit in _end_rows(lay, e, bool(mark)):
                lines.append(_line(e.index, row, mark if hit else "", color, lay))
            continue
        if isinstance(e, TimeAdvance):
            expired = ", ".join(strip_prefix(k, prefix) for k in e.expired)
            text = f"t={e.time:g}s (+{e.delta:g}s" + (f"; expired: {expired})" if expired else ")")
            lines.append(_line(e.index, lay.rule(text), mark, color, lay, dim=not mark))
            continue
        if isinstance(e, Invoke):
            alive.add(e.process)
        row = lay.blank(sorted(alive, key=lambda p: lay.x[p]))
        if isinstance(e, Invoke):
            lay.note(row, e.process, _invoke_text(e))
        elif isinstance(e, Complete):
            lay.note(row, e.process, _complete_text(e))
            alive.discard(e.process)
        elif isinstance(e, Step):
            if e.process not in lay.x:  # a harness call outside any process
                lay.put(row, lay.x[e.target], describe_step(e, prefix, PG_WIDTH, names), PG_WIDTH)
            else:
                lay.arrow(row, e.process, e.target, e, prefix, names)
        elif isinstance(e, Fault):
            _fault_row(lay, row, e, prefix)
            if e.fault == "client-crash" and e.process:
                alive.discard(e.process)
        elif isinstance(e, Wait) and e.process in lay.x:
            whom = f" (held by {', '.join(e.on)})" if e.on else ""
            took = f"waited {e.time - e.since:g}s" if e.ended else "waits forever"
            lay.note(row, e.process, f"⧗ {took}{whom}")
        elif isinstance(e, DbChange):
            how = "deleted" if e.value is None else f":= {e.value}"
            after = "" if e.step is not None else " (after recovery)"
            lay.put(row, lay.x[POSTGRES], f"● {e.key} {how}{after}", PG_WIDTH)
        lines.append(_line(e.index, row, mark, color, lay))

    if verdict is not None:
        lines.append("")
        lines.append(_paint(render_summary(verdict), _RED if verdict.broken else "", color))
    return "\n".join(lines)


def _line(
    index: int, row: list[str], mark: str, color: bool, lay: _Layout, dim: bool = False
) -> str:
    body = f"{index:>{INDEX_WIDTH - 2}}  " + "".join(row[INDEX_WIDTH:])
    if not mark:
        body = body.rstrip()
        return _paint(body, _DIM, color) if dim else body
    text = f"{body.ljust(lay.width)} {mark}"
    return _paint(text, _RED + _BOLD if mark == BROKEN_MARK else _YELLOW, color)


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and code else text


def _bold(text: str, color: bool) -> str:
    return _paint(text, _BOLD, color)


def render_summary(verdict: Verdict) -> str:
    """One line: ``converges: BROKEN - the cache holds k1 = k1.0 … (witness #10, #8)``."""
    text = f"{verdict.claim}: {verdict.status.value.upper()}"
    if verdict.reason:
        text += f" - {verdict.reason}"
    if verdict.status is Status.BROKEN and verdict.witness:
        text += " (witness " + ", ".join(f"#{i}" for i in verdict.witness) + ")"
    return text
