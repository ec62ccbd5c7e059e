"""What a driver call is, as the history shows it: target, command text, keys,
and its arguments and result rows kept as data.

Kept separate from interception so the rules for naming keys and shortening
results are in one place (the scheduler, expiry tracking and reports share them).
:func:`v1_step` builds the text a step had in trace format version 1 (parameters
packed into the command, rows as a repr), so replays compare with old traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import psycopg
from psycopg.pq import ExecStatus

from cacherace.model.history import Step

REDIS = "redis"
POSTGRES = "postgres"
#: A Redis call the client answered from its own client-side cache (redis-py's
#: ``cache_config``): no server was asked.
LOCAL = "local"

_TEXT_LIMIT = 96
#: What a step keeps of one argument, parameter, row value or statement: whole,
#: for reports to show untruncated, unless it is pathologically long.
DATA_LIMIT = 2000
#: Source of each Lua script a scheduled process ran, by SHA1, so a report can name
#: a script by its first line when no strategy attribute holds it.
SCRIPTS: dict[str, str] = {}


class Call(NamedTuple):
    """One pending driver call. ``commands`` keeps the raw Redis commands (a pipeline
    has several) so expiry tracking can read them; SQL calls leave it empty.

    A NamedTuple, not a frozen dataclass: as immutable, and built ~3x faster (one
    per step)."""

    target: str
    command: str
    keys: tuple[str, ...] = ()
    commands: tuple[tuple[Any, ...], ...] = ()
    writes: bool = True  # False only when surely read-only (lets the DB peek be skipped)
    batch: bool = False  # a pipeline or MULTI/EXEC: its result is a list of results
    args: tuple[str, ...] = ()  # the Step's ``args``: SQL parameters / Redis arguments
    blocking: bool = False  # a blocking pop (BLPOP, ...): it may wait for a push

    def shown(self) -> str:
        """The call as one line of text (faults name the call they hit with it)."""
        return packed(self.target, self.command, self.args)


def text(value: Any, limit: int = _TEXT_LIMIT) -> str:
    """Short, readable text of a command argument or result."""
    if value.__class__ is not str:  # most arguments are exact str: skip the checks
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            value = repr(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


# Where the keys are in a Redis command (by name); default: args[1] only.
_ALL_ARGS = frozenset({"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "WATCH"})
_PAIRS = frozenset({"MSET", "MSETNX"})
_NO_KEYS = frozenset(
    {
        "PING", "ECHO", "TIME", "INFO", "MULTI", "EXEC", "DISCARD", "UNWATCH", "SCRIPT",
        "FLUSHALL", "FLUSHDB", "DBSIZE", "SCAN", "KEYS", "CLIENT", "CONFIG", "HELLO",
        "SELECT", "AUTH", "COMMAND", "FUNCTION", "RANDOMKEY", "WAIT", "WAITAOF",
    }
)  # fmt: skip


_EVAL = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
_XREAD = frozenset({"XREADGROUP", "XREAD"})
#: The rule for each command that is not the default, in one lookup (once per step).
_RULES = {
    **dict.fromkeys(_EVAL, "eval"), **dict.fromkeys(_ALL_ARGS, "all"),
    **dict.fromkeys(_PAIRS, "pairs"), **dict.fromkeys(_XREAD, "xread"),
    **dict.fromkeys(_NO_KEYS, "none"),
}  # fmt: skip


def redis_keys(args: Sequence[Any]) -> tuple[str, ...]:
    """The keys a Redis command touches, by the usual argument positions."""
    if len(args) < 2:
        return ()
    rule = _RULES.get(str(args[0]).upper())
    if rule is None:
        key = args[1]
        return (key if key.__class__ is str and len(key) <= _TEXT_LIMIT else text(key),)
    if rule == "none":
        return ()
    if rule == "eval":
        n = int(args[2])
        return tuple(text(a) for a in args[3 : 3 + n])
    if rule == "all":
        return tuple(text(a) for a in args[1:])
    if rule == "pairs":
        return tuple(text(a) for a in args[1::2])
    upper = [str(a).upper() for a in args]  # XREAD, XREADGROUP
    if "STREAMS" in upper:
        rest = args[upper.index("STREAMS") + 1 :]
        return tuple(text(a) for a in rest[: len(rest) // 2])
    return ()


def redis_command_text(args: Sequence[Any]) -> str:
    # Short exact str arguments (most of them) are their own text: no call per argument.
    return " ".join([a if a.__class__ is str and len(a) <= 40 else text(a, 40) for a in args])


def _data(values: Sequence[Any]) -> tuple[str, ...]:
    # Short exact str values (most of them) are their own text: no call per value.
    return tuple([v if v.__class__ is str and len(v) <= DATA_LIMIT else text(v, DATA_LIMIT)
                  for v in values])  # fmt: skip


#: Blocking pops whose keys are args[1:-1] (BRPOPLPUSH/BLMOVE: args[1]) and whose
#: last argument is the timeout in seconds (0: forever).
BLOCKING = frozenset({"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "BRPOPLPUSH", "BLMOVE"})


def redis_call(args: Sequence[Any]) -> Call:
    shown = redis_command_text(args)
    if len(shown) > _TEXT_LIMIT:
        shown = text(shown)
    name = args[0]
    blocking = (name if name.__class__ is str else text(name)).upper() in BLOCKING
    return Call(REDIS, shown, redis_keys(args), (tuple(args),), args=_data(args[1:]),
                blocking=blocking)  # fmt: skip


def redis_batch_call(label: str, commands: Sequence[Sequence[Any]]) -> Call:
    """A pipeline or MULTI/EXEC: one step made of several commands."""
    keys: dict[str, None] = {}
    for args in commands:
        keys.update(dict.fromkeys(redis_keys(args)))
    body = "; ".join(redis_command_text(a) for a in commands)
    whole = tuple(" ".join(_data(a)) for a in commands)
    return Call(REDIS, text(f"{label} {body}" if body else label), tuple(keys),
                tuple(tuple(a) for a in commands), batch=True, args=whole)  # fmt: skip


def redis_script_call(
    sha_or_name: str, keys: Sequence[Any], args: Sequence[Any], source: str | None = None
) -> Call:
    """A Lua script: one step; recorded as the EVALSHA it amounts to (``args``: the
    SHA1, the number of keys, the keys, the arguments)."""
    if source is not None and sha_or_name not in SCRIPTS:
        SCRIPTS[sha_or_name] = source
    cmd = ("EVALSHA", sha_or_name, len(keys), *keys, *args)
    shown = " ".join(text(a, 40) for a in ("SCRIPT", sha_or_name[:8], *keys, *args))
    return Call(REDIS, text(shown), tuple(text(k) for k in keys), (cmd,), args=_data(cmd[1:]))


_READ_ONLY_SQL = ("SELECT", "SHOW", "WITH", "VALUES", "TABLE", "EXPLAIN")


#: Statement text -> (its shown form, whether it may write). Code runs the same few
#: statements over and over, and re-splitting them cost ~2 us a SQL step.
_STATEMENTS: dict[str, tuple[str, bool]] = {}


def _statement(query: str) -> tuple[str, bool]:
    known = _STATEMENTS.get(query)
    if known is None:
        if len(_STATEMENTS) >= 1024:  # statements built with their values inline
            _STATEMENTS.clear()
        head = query.lstrip()[:8].upper()
        # WITH may hide a write (data-modifying CTE): only plain SELECT/SHOW count as reads.
        writes = not head.startswith(("SELECT", "SHOW", "VALUES", "TABLE", "EXPLAIN"))
        known = _STATEMENTS[query] = (text(" ".join(query.split()), DATA_LIMIT), writes)
    return known


def sql_call(query: str, params: Any = None) -> Call:
    q, writes = _statement(query)
    if not params:
        return Call(POSTGRES, q, (), (), writes)
    values = params.values() if isinstance(params, dict) else params
    return Call(POSTGRES, q, (), (), writes, args=_data(list(values)))


def sql_keyword_call(keyword: str) -> Call:
    return Call(POSTGRES, keyword, (), (), keyword != "BEGIN")


# -- results --------------------------------------------------------------------------
_ROWS = frozenset(s for s in ExecStatus if s.name in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK"))
_SCALARS = (str, int, float, bool, type(None))


def _cell(value: Any) -> Any:
    # JSON's own scalars stay as they are (a trace keeps 2 as 2); the rest as text.
    if value.__class__ in _SCALARS:
        return (
            value
            if value.__class__ is not str or len(value) <= DATA_LIMIT
            else text(value, DATA_LIMIT)
        )
    return text(value, DATA_LIMIT)


def step_result(target: str, result: Any) -> tuple[str, tuple[tuple[Any, ...], ...] | None]:
    """What a step records of a call's result: its compact text, and the rows a
    statement returned (None when it returned none), as data."""
    if target == REDIS:
        return text(result), None
    if isinstance(result, psycopg.Cursor):
        res = result.pgresult
        if res is None or not (res.nfields or res.status in _ROWS):
            return text(result.statusmessage or ""), None
        rows = result.fetchall()
        if rows:  # (scrolling an empty result raises IndexError)
            result.scroll(0, mode="absolute")  # leave the rows for the caller to fetch
        return text(result.statusmessage or ""), tuple(tuple(map(_cell, r)) for r in rows)
    if isinstance(result, psycopg.AsyncCursor):  # the same, for async code
        res = result.pgresult
        if res is None or not (res.nfields or res.status in _ROWS):
            return text(result.statusmessage or ""), None
        rows = at_once(result.fetchall())
        if rows:
            at_once(result.scroll(0, mode="absolute"))
        return text(result.statusmessage or ""), tuple(tuple(map(_cell, r)) for r in rows)
    return "", None


def at_once(coro: Any) -> Any:
    """Run a coroutine that completes without waiting (an async cursor's fetch of
    rows it already holds), here and now, outside any event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("cacherace: a coroutine expected to complete at once waited")


def v1_step(step: Step) -> Step:
    """``step`` as trace format version 1 recorded it: parameters packed into the
    command as ``QUERY [p1, p2]``, rows as their repr, no structure. Built from the
    structure (a step that has none is returned as it is)."""
    if step.args is None and step.rows is None:
        return step
    result = step.result
    if step.target == POSTGRES and step.rows is not None:
        result = text(list(step.rows))
    command = packed(step.target, step.command, step.args or ())
    return replace(step, command=command, result=result, args=None, rows=None)


def packed(target: str, command: str, args: Sequence[str]) -> str:
    """A call's one-line text, as version 1 recorded it: a SQL statement clipped,
    then its parameters (they hold the key and value) as ``[p1, p2]``."""
    if target != POSTGRES:
        return command
    command = text(command)
    if args:
        command += f" [{text(', '.join([text(p, 24) for p in args]), 64)}]"
    return command
