"""What a driver call is, as the history shows it: target, command text, keys.

Kept separate from interception so the rules for naming keys and shortening
results are in one place (the scheduler, expiry tracking and reports share them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

REDIS = "redis"
POSTGRES = "postgres"

_TEXT_LIMIT = 96


@dataclass(frozen=True, slots=True)
class Call:
    """One pending driver call. ``commands`` keeps the raw Redis commands (a pipeline
    has several) so expiry tracking can read them; SQL calls leave it empty."""

    target: str
    command: str
    keys: tuple[str, ...] = ()
    commands: tuple[tuple[Any, ...], ...] = ()
    writes: bool = True  # False only when surely read-only (lets the DB peek be skipped)
    batch: bool = False  # a pipeline or MULTI/EXEC: its result is a list of results


def text(value: Any, limit: int = _TEXT_LIMIT) -> str:
    """Short, readable text of a command argument or result."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    s = value if isinstance(value, str) else repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


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


def redis_keys(args: Sequence[Any]) -> tuple[str, ...]:
    """The keys a Redis command touches, by the usual argument positions."""
    name = str(args[0]).upper()
    if name in _NO_KEYS or len(args) < 2:
        return ()
    if name in ("EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"):
        n = int(args[2])
        return tuple(text(a) for a in args[3 : 3 + n])
    if name in _ALL_ARGS:
        return tuple(text(a) for a in args[1:])
    if name in _PAIRS:
        return tuple(text(a) for a in args[1::2])
    if name in ("XREADGROUP", "XREAD"):
        upper = [str(a).upper() for a in args]
        if "STREAMS" in upper:
            rest = args[upper.index("STREAMS") + 1 :]
            return tuple(text(a) for a in rest[: len(rest) // 2])
        return ()
    return (text(args[1]),)


def redis_command_text(args: Sequence[Any]) -> str:
    return " ".join(text(a, 40) for a in args)


def redis_call(args: Sequence[Any]) -> Call:
    return Call(REDIS, text(redis_command_text(args)), redis_keys(args), (tuple(args),))


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


def sql_call(query: str, params: Any = None) -> Call:
    # The statement is clipped, its parameters kept (they hold the key and value).
    q = text(" ".join(query.split()), 96)
    if params:
        shown = ", ".join(text(p, 24) for p in (params.values() if isinstance(params, dict)
                                                 else params))  # fmt: skip
        q = f"{q} [{text(shown, 64)}]"
    head = query.lstrip()[:8].upper()
    # WITH may hide a write (data-modifying CTE): only plain SELECT/SHOW count as reads.
    writes = not head.startswith(("SELECT", "SHOW", "VALUES", "TABLE", "EXPLAIN"))
    return Call(POSTGRES, q, (), (), writes)


def sql_keyword_call(keyword: str) -> Call:
    return Call(POSTGRES, keyword, (), (), keyword != "BEGIN")
