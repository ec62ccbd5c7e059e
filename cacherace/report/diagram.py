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

import shutil
import textwrap
from collections.abc import Iterable, Mapping

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
    Outcome,
    Step,
    TimeAdvance,
    Wait,
)
from cacherace.model.verdict import Status, Verdict
from cacherace.report.layout import INDEX_WIDTH, Layout
from cacherace.report.steps import StepText, describe, fit, fit_words, short_sql, strip_prefix

__all__ = ["describe_step", "render", "render_summary", "short_sql"]

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


def _delivery_text(e: Delivery, prefix: str | None) -> str:
    keys = ", ".join(strip_prefix(k, prefix) for k in e.keys)
    return f"⇠ invalidated {keys}"


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
    "cache-pause": "⏸ cache pause",
    "cache-resume": "▶ cache resume",
    "db-pause": "⏸ db pause",
    "db-resume": "▶ db resume",
}


def _fault_row(lay: Layout, row: list[str], e: Fault, prefix: str | None) -> None:
    if e.fault in ("client-crash", "fail-before", "fail-after") and e.process in lay.x:
        if e.fault == "client-crash":
            lay.note(row, e.process, "✗ crashed")
        else:  # a narrow column drops "next call:", never the fault's name
            lay.note(row, e.process, StepText("↯", ("next", "call:"), 0, (), e.fault))
        return
    if e.fault == "client-timeout" and e.process in lay.x:
        lay.note(row, e.process, f"⏱ timed out {e.detail.split(':', 1)[0]}")
        return
    target = POSTGRES if e.fault.startswith("db-") else REDIS
    text = _FAULT_TEXT.get(e.fault, f"✗ {e.fault}")
    if e.fault == "evict":
        text = f"✗ evict {strip_prefix(e.key or '', prefix)}"
    if e.detail:
        text += f" ({strip_prefix(e.detail, prefix)})"
    lay.at_server(row, target, text)


def _end_rows(lay: Layout, e: EndState, marked: bool) -> list[tuple[list[str], bool]]:
    head = "end: settled" if e.settled else f"end: NOT settled ({e.reason})"
    rows: list[tuple[list[str], bool]] = [(lay.rule(head, "═"), False)]
    any_differs = False
    for key in sorted(set(e.cache) | set(e.db)):
        cached, stored = e.cache.get(key), e.db.get(key)
        differs = cached is not None and cached != stored
        any_differs |= differs
        row = lay.blank(())
        room = lay.x[POSTGRES] - lay.x[REDIS] - 1
        shown = f"{key} = {_value(cached)}" + ("  ≠" if differs else "")
        lay.put(row, lay.x[REDIS], fit_words(shown.split(" "), room))
        lay.at_server(row, POSTGRES, f"{key} = {_value(stored)}")
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
    width: int | None = None,
) -> str:
    """The sequence diagram of ``history``; ``verdict``'s witness events are marked.

    ``prefix`` is the strategy's cache key prefix, left out of Redis keys to cut
    noise. ``color`` adds ANSI colours (red for the offending event, yellow for
    the rest of the witness); without it the markers alone carry the meaning.
    ``scripts`` names Lua scripts by SHA1 (see :func:`~cacherace.report.steps.script_names`).
    Every line fits in ``width`` columns (default: the terminal's, ``COLUMNS``).
    """
    processes = _process_order(history.events)
    lay = Layout(processes, _labels(history), width or terminal_width())
    witness = verdict.witness if verdict is not None and verdict.broken else ()
    first = witness[0] if witness else None
    names = scripts or {}

    head, under = lay.header()
    lines = [_bold(head, color), under]
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
            st = describe(e, prefix, names)
            if e.target == LOCAL and e.process in lay.x:  # its own cache answered
                lay.note(row, e.process, st)
            elif e.process not in lay.x:  # a harness call outside any process
                lay.put(row, lay.x[e.target], fit(st, lay.server_room(e.target)))
            else:
                lay.arrow(row, e.process, e.target, st)
        elif isinstance(e, Fault):
            _fault_row(lay, row, e, prefix)
            if e.fault == "client-crash" and e.process:
                alive.discard(e.process)
        elif isinstance(e, Delivery) and e.process in lay.x:
            lay.note(row, e.process, _delivery_text(e, prefix))
        elif isinstance(e, Wait) and e.process in lay.x:
            whom = f" (held by {', '.join(e.on)})" if e.on else ""
            took = f"waited {e.time - e.since:g}s" if e.ended else "waits forever"
            lay.note(row, e.process, f"⧗ {took}{whom}")
        elif isinstance(e, DbChange):
            how = "deleted" if e.value is None else f":= {e.value}"
            after = "" if e.step is not None else " (after recovery)"
            lay.at_server(row, POSTGRES, f"● {e.key} {how}{after}")
        lines.append(_line(e.index, row, mark, color, lay))

    if verdict is not None:
        lines.append("")
        summary = wrap(render_summary(verdict), lay.total)
        lines.append(_paint(summary, _RED if verdict.broken else "", color))
    return "\n".join(lines)


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` first); 120 when output is not a terminal."""
    return shutil.get_terminal_size((120, 24)).columns


def wrap(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters, broken between words."""
    return "\n".join(
        textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    )


def _line(
    index: int, row: list[str], mark: str, color: bool, lay: Layout, dim: bool = False
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
