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

import re
from collections.abc import Iterable

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

REDIS_WIDTH = 30
PG_WIDTH = 34
MIN_PROCESS_WIDTH = 10
MAX_PROCESS_WIDTH = 16
INDEX_WIDTH = 5  # "  12 " before the first column

BROKEN_MARK = "◀ BROKEN"
WITNESS_MARK = "◀ witness"

_RED, _YELLOW, _DIM, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[1m", "\x1b[0m"


# -- shortening commands and results --------------------------------------------------
def _clip(s: str, limit: int) -> str:
    if limit <= 0:
        return ""
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _strip_prefix(s: str, prefix: str | None) -> str:
    if not prefix:
        return s
    # Only at the start of a token, so a value that merely contains the prefix stays.
    return re.sub(rf"(?<![\w:]){re.escape(prefix)}", "", s)


def _split_params(s: str) -> list[str]:
    """Split ``a, [b, c], d`` at top-level commas (parameters may be lists)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for i, ch in enumerate(s):
        if ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
        if depth == 0 and ch == "," and s[i + 1 : i + 2] == " ":
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return [p.strip() for p in out]


def _sql_parts(command: str) -> tuple[str, list[str] | None]:
    """The query and its parameters, from the ``QUERY [p1, p2]`` text calls.py records."""
    last = command.rfind("%")
    if last >= 0 and command.endswith("]"):
        at = command.find(" [", last)
        if at >= 0:
            return command[:at], _split_params(command[at + 2 : -1])
    return command, None


def _literal(p: str) -> str:
    return p if re.fullmatch(r"-?\d+(\.\d+)?|None|\[.*\]", p) else f"'{p}'"


def _bind(query: str, params: list[str] | None) -> str:
    """Put the parameters where their placeholders are (when they line up)."""
    holders = re.findall(r"%\(\w+\)s|%s", query)
    if not params or len(holders) != len(params):
        return query
    it = iter(params)
    return re.sub(r"%\(\w+\)s|%s", lambda _: _literal(next(it)), query)


_TABLE = r"\S+(?:\s+AS\s+\w+)?"
_KEY = r"(?:\w+\.)?key\s*=\s*'([^']*)'"
_SQL_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^SELECT value FROM {_TABLE} WHERE {_KEY}", re.I), r"SELECT \1"),
    (re.compile(rf"^SELECT (.+?) FROM {_TABLE} WHERE {_KEY}", re.I), r"SELECT \1 OF \2"),
    (
        re.compile(
            rf"^INSERT INTO {_TABLE} \(key, value[^)]*\) VALUES \('([^']*)', '([^']*)'.*"
            r"ON CONFLICT",
            re.I,
        ),
        r"UPSERT \1 := '\2'",
    ),
    (
        re.compile(
            rf"^INSERT INTO {_TABLE} \(key, value[^)]*\) VALUES \('([^']*)', '([^']*)'", re.I
        ),
        r"INSERT \1 := '\2'",
    ),
    (re.compile(r"^INSERT INTO .*ON CONFLICT.*", re.I), "UPSERT …"),
    (
        re.compile(rf"^UPDATE {_TABLE} SET (?:\w+\.)?value\s*=\s*('[^']*').* WHERE {_KEY}", re.I),
        r"UPDATE \2 := \1",
    ),
    (re.compile(rf"^DELETE FROM {_TABLE} WHERE {_KEY}", re.I), r"DELETE \1"),
]


def short_sql(command: str) -> str:
    """``UPDATE cacherace_items SET value = %s WHERE key = %s [k1.1, k1]``
    becomes ``UPDATE k1 := 'k1.1'``."""
    query, params = _sql_parts(command)
    bound = _bind(query, params)
    for pattern, replacement in _SQL_RULES:
        m = pattern.match(bound)
        if m:
            return m.expand(replacement)
    # Unknown shape: keep it, without the table's name and alias as noise.
    bound = re.sub(r"\b(FROM|INTO|UPDATE)\s+\S+\s+AS\s+\w+", r"\1 …", bound, flags=re.I)
    return bound


def short_redis(command: str, prefix: str | None) -> str:
    return _strip_prefix(command, prefix)


def short_result(step: Step, prefix: str | None) -> str:
    r = step.result
    if step.target == REDIS:
        return {"None": "nil", "True": "OK", "False": "false"}.get(r, _strip_prefix(r, prefix))
    if r == "[]":
        return "no row"
    one = re.fullmatch(r"\[\((.*?),?\)\]", r)  # one row: [('k1.0',)] -> k1.0
    if one:
        return ", ".join(v.strip("'\"") for v in _split_params(one.group(1)))
    return r


def describe_step(step: Step, prefix: str | None = "cr:", limit: int | None = None) -> str:
    """A step's text as the diagram shows it: command, then → result or ✗ error.

    With ``limit``, the command is clipped first so the outcome stays visible.
    """
    cmd = short_redis(step.command, prefix) if step.target == REDIS else short_sql(step.command)
    head = ""
    if step.injected == "fail-before":
        head, tail = "✗ ", f" (lost before reaching {step.target})"
    elif step.error and step.injected is None:
        tail = " ✗ " + step.error.replace("cacherace: ", "")
    else:
        res = short_result(step, prefix)
        tail = f" → {res}" if res else ""
        if step.injected == "fail-after":
            tail += " ✗ reply lost"
    if limit is not None and len(head) + len(cmd) + len(tail) > limit:
        tail = _clip(tail, max(limit // 2, limit - len(head) - len(cmd)))
        cmd = _clip(cmd, limit - len(head) - len(tail))
    return head + cmd + tail


# -- layout -----------------------------------------------------------------------
def _process_order(events: Iterable[Event]) -> list[str]:
    seen: dict[str, None] = {}
    for e in events:
        name = getattr(e, "process", None)
        if name:
            seen.setdefault(name)
    clients = sorted((p for p in seen if re.fullmatch(r"c\d+", p)), key=lambda p: int(p[1:]))
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

    def arrow(self, row: list[str], p: str, target: str, step: Step, prefix: str | None) -> None:
        start, end = self.x[p], self.x[target]
        row[start] = "├"
        for i in range(start + 1, end - 1):
            row[i] = "┼" if row[i] == "│" else "─"
        row[end - 1] = "▶"
        limit = REDIS_WIDTH if target == REDIS else PG_WIDTH
        if target == REDIS:
            # A Redis step's text may run on into the postgres column when that is empty.
            limit += PG_WIDTH
        self.put(row, end + 1, describe_step(step, prefix, limit - 1), limit - 1)

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
        text += f" ({_strip_prefix(e.detail, prefix)})"
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
) -> str:
    """The sequence diagram of ``history``; ``verdict``'s witness events are marked.

    ``prefix`` is the strategy's cache key prefix, left out of Redis keys to cut
    noise. ``color`` adds ANSI colours (red for the offending event, yellow for
    the rest of the witness); without it the markers alone carry the meaning.
    """
    processes = _process_order(history.events)
    lay = _Layout(processes, _labels(history))
    witness = verdict.witness if verdict is not None and verdict.broken else ()
    first = witness[0] if witness else None

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
            expired = ", ".join(_strip_prefix(k, prefix) for k in e.expired)
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
                lay.put(row, lay.x[e.target], describe_step(e, prefix, PG_WIDTH), PG_WIDTH)
            else:
                lay.arrow(row, e.process, e.target, e, prefix)
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
