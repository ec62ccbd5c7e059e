"""What the harness cannot drive, refused before anything runs: an operation that
is a generator or an async generator, a strategy half sync and half async, an
async strategy started from inside a running event loop (exit 2, one line)."""

from __future__ import annotations

import inspect

from cacherace.errors import HarnessError, StrategyError


class Undrivable(StrategyError, HarnessError):
    """A strategy whose operations the harness cannot run step by step: refused
    before anything runs (exit 2), never explored."""


def operations(cls: type) -> list[str]:
    return ["read", "write", *getattr(cls, "actors", ())]


def is_async(cls: type) -> bool:
    """Whether ``cls``'s operations are ``async def`` (all or none must be)."""
    return any(inspect.iscoroutinefunction(getattr(cls, n, None)) for n in operations(cls))


def undrivable(cls: type, spec: str = "") -> str | None:
    """Why the harness cannot drive ``cls`` (one line naming cause and fix), or None."""
    name = spec or getattr(cls, "__name__", repr(cls))
    once = "cacherace runs operations that return once - return the value, do not yield it"
    for n in operations(cls):
        f = getattr(cls, n, None)
        if inspect.isasyncgenfunction(f):
            return f"{name}: {n} is an async generator (async def with yield); {once}"
        if inspect.isgeneratorfunction(f):
            return f"{name}: {n} is a generator (def with yield); {once}"
    found = [n for n in operations(cls) if inspect.iscoroutinefunction(getattr(cls, n, None))]
    plain = [n for n in operations(cls) if callable(getattr(cls, n, None)) and n not in found]
    if found and plain:
        return (
            f"{name}: {', '.join(found)} async def but {', '.join(plain)} not; a strategy is "
            "all sync (redis-py, psycopg) or all async (redis.asyncio, psycopg's "
            "AsyncConnection) - make its operations all one kind"
        )
    return None


def refuse_undrivable(cls: type, spec: str = "") -> None:
    why = undrivable(cls, spec)
    if why is not None:
        raise Undrivable(why)
