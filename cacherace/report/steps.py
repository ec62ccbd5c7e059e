"""What a step says, for a person: short command, key, result, outcome, from the
step's structure (its statement and parameters, its rows), never by parsing text.

A step recorded before steps had structure (trace format version 1) is shown as
its text stands. The diagram (terminal and HTML) renders what :func:`describe`
returns; only the terminal elides it to fit (:func:`fit`).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cacherace.engine.drivers.calls import LOCAL, REDIS, SCRIPTS
from cacherace.model.history import Step

ELLIPSIS = "…"
#: Control characters (a recorded value may hold newlines) shown escaped: a row is one line.
_CONTROL = {i: f"\\x{i:02x}" for i in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t"}


def one_line(s: str) -> str:
    return s.translate(_CONTROL)


@dataclass(frozen=True)
class StepText:
    """A step as words: ``head`` (a mark before the command), ``words`` (the
    command, name first; ``keep`` of them, the name and its key, are never elided)
    and ``outcome`` (``→ result``, ``✗ error``, ``✗ reply lost``: never cut)."""

    head: str
    words: tuple[str, ...]
    keep: int
    result: tuple[str, ...] = ()
    outcome: str = ""

    def full(self) -> str:
        return join(self.head, " ".join(self.words), self._tail(self.result))

    def _tail(self, result: Sequence[str]) -> str:
        res = f"→ {' '.join(result)}" if result else ""
        return " ".join(x for x in (res, self.outcome) if x)


def join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


# -- key prefix -------------------------------------------------------------------------
def strip_prefix(s: str, prefix: str | None) -> str:
    """``s`` without ``prefix`` where a token starts with it (so a value that merely
    contains the prefix stays)."""
    if not prefix:
        return s
    out: list[str] = []
    at = 0
    while True:
        hit = s.find(prefix, at)
        if hit < 0:
            out.append(s[at:])
            return "".join(out)
        before = s[hit - 1] if hit else " "
        starts = not (before.isalnum() or before in "_:")
        out.append(s[at:hit] if starts else s[at : hit + len(prefix)])
        at = hit + len(prefix)


# -- Lua scripts ------------------------------------------------------------------------
def script_names(strategy: type | None) -> dict[str, str]:
    """SHA1 -> the name of the strategy attribute or module variable holding that
    Lua source (``_SET_IF_NEWER`` -> ``set_if_newer``), through the class's bases."""
    if strategy is None:
        return {}
    names: dict[str, str] = {}
    for cls in reversed(inspect.getmro(strategy)):
        module = inspect.getmodule(cls)
        spaces = [vars(module)] if module is not None else []
        for space in [*spaces, vars(cls)]:
            for name, value in list(space.items()):
                source = getattr(value, "script", value)  # a redis-py Script, or its text
                if isinstance(source, bytes):
                    source = source.decode("utf-8", "replace")
                if isinstance(source, str) and "redis.call" in source:
                    sha = hashlib.sha1(source.encode()).hexdigest()
                    names[sha] = name.lstrip("_").lower() or name
    return names


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return source.strip()


def _script_name(sha: str, names: Mapping[str, str]) -> str:
    if sha in names:
        return names[sha]
    if sha in SCRIPTS:
        return first_line(SCRIPTS[sha])
    return sha[:8]


# -- Redis ------------------------------------------------------------------------------
_REDIS_RESULTS = {"None": "nil", "True": "OK", "False": "false"}
_EVAL = ("EVAL", "EVAL_RO")
_EVALSHA = ("EVALSHA", "EVALSHA_RO")


def _redis_words(step: Step, prefix: str | None, names: Mapping[str, str]) -> tuple[list[str], int]:
    if step.args is None:  # version 1: the command text as it stands
        words = strip_prefix(step.command, prefix).split(" ")
        return words, 3 if words[0] in ("SCRIPT", "MULTI", "PIPELINE") else 2
    name = step.command.split(" ", 1)[0]
    args = [strip_prefix(a, prefix) for a in step.args]
    if name == "SCRIPT" and len(args) >= 2:  # a registered script: EVALSHA sha n keys args
        return ["SCRIPT", _script_name(step.args[0], names), *args[2:]], 3
    if name.upper() in _EVAL + _EVALSHA and len(args) >= 2:
        body = first_line(args[0]) if name.upper() in _EVAL else _script_name(args[0], names)
        return [name, body, *args[2:]], 3
    if step.command.startswith(("MULTI", "PIPELINE")) and args:
        words = [name]
        for i, command in enumerate(args):
            words += command.split(" ")
            if i < len(args) - 1:
                words[-1] += ";"
        return words, 3
    return [name, *args], 2


def _redis_result(step: Step, prefix: str | None) -> list[str]:
    r = step.result
    return [_REDIS_RESULTS.get(r, strip_prefix(r, prefix))] if r else []


# -- SQL --------------------------------------------------------------------------------
def _literal(p: str) -> str:
    if p == "None" or (p.startswith("[") and p.endswith("]")):
        return p
    try:
        float(p)
    except ValueError:
        return f"'{p}'"
    return p


def _tokens(statement: str) -> list[str]:
    spaced = statement
    for ch in "(),":
        spaced = spaced.replace(ch, f" {ch} ")
    return spaced.split()


def _placeholder(token: str) -> bool:
    return token.startswith(("%s", "%("))


def bind(statement: str, params: Sequence[str]) -> str:
    """The statement with each parameter where its placeholder stands (when they
    line up one to one; otherwise the statement as it is)."""
    out: list[str] = []
    at, n = 0, 0
    while (hit := statement.find("%", at)) >= 0:
        nxt = statement[hit + 1 : hit + 2]
        if nxt == "%":
            out.append(statement[at : hit + 2])
            at = hit + 2
            continue
        end = hit + 2 if nxt == "s" else statement.find(")s", hit) + 2 if nxt == "(" else -1
        if end < 2 or n >= len(params):
            return statement
        out.append(statement[at:hit] + _literal(params[n]))
        n, at = n + 1, end
    return statement if n != len(params) else "".join(out) + statement[at:]


def _key_param(tokens: list[str], params: Sequence[str], order: list[int]) -> str | None:
    """The parameter compared with ``key`` in ``... WHERE key = %s``."""
    for i in range(len(tokens) - 2):
        t = tokens[i].lower()
        if (t == "key" or t.endswith(".key")) and tokens[i + 1] == "=" and order[i + 2] >= 0:
            return params[order[i + 2]]
    return None


def short_sql(statement: str, params: Sequence[str] = ()) -> str:
    """``UPDATE cacherace_items SET value = %s WHERE key = %s`` with ``(k1.1, k1)``
    becomes ``UPDATE k1 := 'k1.1'``; shapes it does not know keep their text, with
    parameters bound and the table's name left out."""
    tokens = _tokens(statement)
    if not tokens:
        return statement
    order, n = [], 0
    for t in tokens:
        order.append(n if _placeholder(t) and n < len(params) else -1)
        n += _placeholder(t)
    upper = [t.upper() for t in tokens]
    verb = upper[0]
    if n == len(params):
        key = _key_param(tokens, params, order)
        if verb == "SELECT" and "FROM" in upper and key is not None:
            selected = " ".join(tokens[1 : upper.index("FROM")]).replace(" ,", ",")
            return f"SELECT {key}" if selected.lower() == "value" else f"SELECT {selected} OF {key}"
        if verb == "DELETE" and key is not None:
            return f"DELETE {key}"
        if verb == "UPDATE" and key is not None and "SET" in upper:
            at = upper.index("SET") + 1
            if tokens[at].lower().endswith("value") and tokens[at + 1] == "=":
                value = order[at + 2] if at + 2 < len(order) else -1
                if value >= 0:
                    return f"UPDATE {key} := '{params[value]}'"
        if verb == "INSERT" and "VALUES" in upper:
            cols = [t.lower() for t in tokens[tokens.index("(") + 1 : upper.index("VALUES")]]
            vals = order[upper.index("VALUES") + 2 :]
            if cols[:3] == ["key", ",", "value"] and vals[:1] != [-1] and vals[2:3] != [-1]:
                what = "UPSERT" if "CONFLICT" in upper else "INSERT"
                return f"{what} {params[vals[0]]} := '{params[vals[2]]}'"
        if verb == "INSERT" and "CONFLICT" in upper:
            return "UPSERT …" + (f" [{', '.join(params)}]" if params else "")
    bound = bind(statement, params)
    words = bound.split(" ")
    for i in range(len(words) - 3):  # FROM table AS t -> FROM …
        if words[i].upper() in ("FROM", "INTO", "UPDATE") and words[i + 2].upper() == "AS":
            return " ".join([*words[: i + 1], ELLIPSIS, *words[i + 4 :]])
    return bound


def _rows_text(rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return ["no row"]
    shown = [", ".join("NULL" if v is None else str(v) for v in row) for row in rows]
    return "; ".join(shown).split(" ")


def _sql(step: Step) -> tuple[list[str], int, list[str]]:
    if step.args is None and step.rows is None:  # version 1: text as it stands
        return step.command.split(" "), 1, step.result.split(" ") if step.result else []
    words = short_sql(step.command, step.args or ()).split(" ")
    result = _rows_text(step.rows) if step.rows is not None else step.result.split(" ")
    return words, 2, [r for r in result if r]


# -- a whole step -----------------------------------------------------------------------
def describe(step: Step, prefix: str | None = "cr:", names: Mapping[str, str] = {}) -> StepText:
    """``step`` as words: its short command, its result or what went wrong."""
    if step.target in (REDIS, LOCAL):
        words, keep = _redis_words(step, prefix, names)
        result = _redis_result(step, prefix)
    else:
        words, keep, result = _sql(step)
    words = [one_line(w) for w in words if w]
    result = [one_line(r) for r in result]
    head, outcome = "", ""
    if step.injected == "fail-before":
        head, result, outcome = "✗", [], f"(lost before reaching {step.target})"
    elif step.error and step.injected is None:
        result, outcome = [], "✗ " + one_line(step.error.replace("cacherace: ", ""))
    elif step.injected == "fail-after":
        outcome = "✗ reply lost"
    if step.target == LOCAL:  # the client's own cache answered: no server was asked
        head, outcome = "⌂", join(outcome, "(local)")
    return StepText(head, tuple(words), min(keep, len(words)), tuple(result), outcome)


def fit(st: StepText, limit: int) -> str:
    """``st`` in at most ``limit`` characters: whole words are left out from the
    middle of the command, then from the end of the result (shown as ``…``); the
    command's name and key and the outcome stay (a long error keeps its first
    words). Only a name or key too long for the room is cut."""
    text = st.full()
    if len(text) <= limit:
        return text
    head = join(st.head, *st.words[: st.keep])
    rest = list(st.words[st.keep :])
    tail = st._tail(st.result)
    if len(join(head, ELLIPSIS, tail)) > limit and st.result:
        room = limit - len(join(head, ELLIPSIS, st._tail([""]))) - 1
        tail = st._tail([fit_words(st.result, room)])
    kept = _from_end(rest, limit - len(join(head, ELLIPSIS, tail)))
    body = join(head, ELLIPSIS if len(kept) < len(rest) else "", *kept, tail)
    if len(body) > limit and st.outcome:  # a long error: whole words of it, from its start
        lead = body[: len(body) - len(st.outcome)].rstrip()
        body = join(lead, fit_words(st.outcome.split(" "), limit - len(lead) - 1))
    return body if len(body) <= limit else _cut(body, limit)


def _from_end(words: Sequence[str], budget: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for w in reversed(words):
        if used + len(w) + 1 > budget:
            break
        kept.insert(0, w)
        used += len(w) + 1
    return kept


def fit_words(words: Sequence[str], limit: int) -> str:
    """Words from the start while they fit, then ``…`` (alone when not even the
    first word fits: a word is never cut)."""
    text = " ".join(words)
    if len(text) <= limit:
        return text
    out: list[str] = []
    for w in words:
        if len(" ".join([*out, w, ELLIPSIS])) > limit:
            break
        out.append(w)
    return " ".join([*out, ELLIPSIS])


def _cut(text: str, limit: int) -> str:
    if limit <= 0:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
