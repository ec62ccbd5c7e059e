"""What a driver call is, as the history shows it: target, command text, keys.

Kept separate from interception so the rules for naming keys and shortening
results are in one place (the scheduler, expiry tracking and reports share them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

REDIS = "redis"
POSTGRES = "postgres"

_TEXT_LIMIT = 96


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
        "SELECT", "AUTH", "COMMAND", "FUNCTION", "RANDOMKEY",
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


def redis_call(args: Sequence[Any]) -> Call:
    shown = redis_command_text(args)
    if len(shown) > _TEXT_LIMIT:
        shown = text(shown)
    return Call(REDIS, shown, redis_keys(args), (tuple(args),))


def redis_batch_call(label: str, commands: Sequence[Sequence[Any]]) -> Call:
    """A pipeline or MULTI/EXEC: one step made of several commands."""
    keys: dict[str, None] = {}
    for args in commands:
        keys.update(dict.fromkeys(redis_keys(args)))
    body = "; ".join(redis_command_text(a) for a in commands)
    return Call(REDIS, text(f"{label} {body}" if body else label), tuple(keys),
                tuple(tuple(a) for a in commands), batch=True)  # fmt: skip


def redis_script_call(sha_or_name: str, keys: Sequence[Any], args: Sequence[Any]) -> Call:
    """A Lua script: one step; recorded as the EVALSHA it amounts to."""
    cmd = ("EVALSHA", sha_or_name, len(keys), *keys, *args)
    shown = " ".join(text(a, 40) for a in ("SCRIPT", sha_or_name[:8], *keys, *args))
    return Call(REDIS, text(shown), tuple(text(k) for k in keys), (cmd,))


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
        known = _STATEMENTS[query] = (text(" ".join(query.split()), 96), writes)
    return known


def sql_call(query: str, params: Any = None) -> Call:
    # The statement is clipped, its parameters kept (they hold the key and value).
    q, writes = _statement(query)
    if params:
        shown = ", ".join([text(p, 24) for p in (params.values() if isinstance(params, dict)
                                                  else params)])  # fmt: skip
        q = f"{q} [{text(shown, 64)}]"
    return Call(POSTGRES, q, (), (), writes)


def sql_keyword_call(keyword: str) -> Call:
    return Call(POSTGRES, keyword, (), (), keyword != "BEGIN")
