"""Who opened which connection: every redis-py client and pool and every psycopg
connection made by a process, a library's own included, belongs to that process.

A library opens its own clients (dogpile.cache and cachelib build a
``redis.Redis`` with their own ``decode_responses``; Django opens psycopg
connections), so closing the two connections the harness handed a client is not
what a crash of that application process does. The constructors are wrapped, once:
an object built while a process runs (its worker, or while the harness builds its
strategy object, see :func:`owning`) is recorded in that process's ``owned`` list,
and :func:`close_owned` closes them all when the process dies or its strategy
object is replaced.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import psycopg
import redis
from greenlet import getcurrent

building: list[Any] = []  # processes whose strategy object is being built
_installed = False


@contextlib.contextmanager
def owning(p: Any) -> Iterator[None]:
    """Connections opened in this block belong to ``p`` (building its strategy)."""
    building.append(p)
    try:
        yield
    finally:
        building.pop()


def owner() -> Any:
    """The process running this code, or whose strategy object is being built."""
    p = getattr(getcurrent(), "process", None)
    if p is None and building:
        p = building[-1]
    return p


def _adopt(obj: Any) -> None:
    p = owner()
    if p is not None:
        p.owned.append(weakref.ref(obj))


def close_owned(p: Any) -> list[int]:
    """Close everything ``p`` opened; the backend pids of the psycopg connections
    that were open (their server processes end on their own time)."""
    pids: list[int] = []
    owned, p.owned = p.owned, []
    for ref in owned:
        obj = ref()
        if obj is None:
            continue
        with contextlib.suppress(Exception):
            if isinstance(obj, psycopg.Connection):
                if not obj.closed and not obj.broken:
                    pids.append(obj.info.backend_pid)
                obj.close()
            elif isinstance(obj, redis.ConnectionPool):
                obj.disconnect()
            elif isinstance(obj, redis.Redis):
                obj.close()
                obj.connection_pool.disconnect()
    return pids


def install() -> None:
    """Wrap the constructors (idempotent); free for callers outside processes."""
    global _installed
    if _installed:
        return
    _installed = True

    pool_init = redis.ConnectionPool.__init__

    def init_pool(self: Any, *args: Any, **kwargs: Any) -> None:
        pool_init(self, *args, **kwargs)
        _adopt(self)

    redis.ConnectionPool.__init__ = init_pool  # type: ignore[method-assign]

    client_init = redis.Redis.__init__

    def init_client(self: Any, *args: Any, **kwargs: Any) -> None:
        client_init(self, *args, **kwargs)
        _adopt(self)

    redis.Redis.__init__ = init_client  # type: ignore[method-assign]

    pg_connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        conn = pg_connect(cls, *args, **kwargs)
        _adopt(conn)
        return conn

    psycopg.Connection.connect = classmethod(connect)  # type: ignore[method-assign, assignment]
    # ``psycopg.connect`` is the original bound at import (Django calls it).
    psycopg.connect = psycopg.Connection.connect  # type: ignore[assignment]
