"""Connections for an async strategy: a ``redis.asyncio.Redis`` and a
``psycopg.AsyncConnection`` per process, opened and closed on the process's own
loop (from the hub, while that loop is idle), with the same epochs, renewals and
ownership as the sync ones (:mod:`cacherace.engine.connections`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cacherace.engine.aio.background import Background, background_of, owner_of
from cacherace.engine.aio.loop import ProcessLoop, on_loop
from cacherace.engine.aio.refuse import Undrivable, is_async, refuse_undrivable
from cacherace.engine.connections import Connections
from cacherace.engine.locks import LOCK_TIMEOUT_S
from cacherace.engine.process import Process
from cacherace.engine.runtime import unwind

#: What an async client copies from the sync client a server hands out.
_REDIS_OPTIONS = (
    "host", "port", "db", "username", "password", "socket_timeout",
    "socket_connect_timeout", "decode_responses", "encoding", "client_name",
)  # fmt: skip


class AioConnections(Connections):
    """Connections for an async strategy: a ``redis.asyncio.Redis`` and a
    ``psycopg.AsyncConnection`` (autocommit) per process, on that process's loop."""

    def __init__(self, servers: Any, strategy_cls: type, settings: Any, clock: Any) -> None:
        if asyncio.events._get_running_loop() is not None:
            raise Undrivable(
                f"{getattr(strategy_cls, '__name__', strategy_cls)}: an async strategy is "
                "run on event loops cacherace owns, but this was called from inside a "
                "running event loop - call it from synchronous code (a plain test function, "
                "or asyncio.to_thread)"
            )
        super().__init__(servers, strategy_cls, settings)
        self.clock = clock

    # A background actor has its owner's loop, connections and strategy (one
    # application process); its own strategy object runs the owner's leftovers.
    def _share(self, bg: Process, owner: Process) -> None:
        bg.loop, bg.redis, bg.db, bg.epochs = owner.loop, owner.redis, owner.db, owner.epochs
        if not isinstance(bg.strategy, Background):
            bg.strategy = Background(bg, owner)

    def stale(self, p: Process) -> bool:
        owner = owner_of(p)
        if owner is None:
            return super().stale(p)
        self._share(p, owner)
        return False

    def renew(self, p: Process) -> None:
        owner = owner_of(p)
        if owner is not None:
            return self._share(p, owner)
        if p.loop is not None:
            p.loop.cancel_leftovers()
        super().renew(p)

    def abandon(self, p: Process) -> None:
        bg = background_of(p)
        if bg is not None:
            self.abandon(bg)  # its loop must stop first
        super().abandon(p)
        if p.loop is not None and owner_of(p) is None:
            p.loop.cancel_leftovers()

    def connect(self, p: Process) -> None:
        s = self.servers
        if p.loop is None:
            p.loop = ProcessLoop(self.clock)
        cache_epoch, db_epoch = p.epochs
        if p.db is not None and (db_epoch != s.db_epoch or p.db.broken):
            with contextlib.suppress(Exception):
                on_loop(p, p.db.close())
        if p.db is None or p.db.closed:
            p.db = on_loop(p, self._connect_db())
        elif p.db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            on_loop(p, p.db.rollback())
        if p.redis is not None and cache_epoch != s.cache_epoch:
            with contextlib.suppress(Exception):
                on_loop(p, p.redis.aclose())
            p.redis = None
        if p.redis is None:
            p.redis = self._redis_client()
        p.epochs = s.epochs
        self.build(p)

    async def _connect_db(self) -> Any:
        conn = await psycopg.AsyncConnection.connect(
            self.servers.pg_server.conninfo(), autocommit=True, connect_timeout=2
        )
        await conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
        return conn

    def _redis_client(self) -> Any:
        """An async client with the sync one's options (address, decoding, timeouts,
        no retries): what ``server.client()`` gives sync strategies."""
        template = self.servers.redis_server.client()
        given = template.connection_pool.connection_kwargs
        template.close()
        kwargs = {k: given[k] for k in _REDIS_OPTIONS if given.get(k) is not None}
        return redis.asyncio.Redis(**kwargs, retry=Retry(NoBackoff(), 0))

    def build(self, p: Process) -> None:
        self.close_owned(p)
        super().build(p)

    def close_owned(self, p: Process) -> None:
        """Close the async pools and connections ``p``'s strategy object opened (a
        library's own), on ``p``'s loop; the sync ones are closed by ``build``."""
        keep = []
        for ref in p.owned:
            obj = ref()
            if isinstance(obj, redis.asyncio.ConnectionPool):
                with contextlib.suppress(Exception):
                    on_loop(p, obj.disconnect())
            elif isinstance(obj, psycopg.AsyncConnection):
                pid = None if obj.closed or obj.broken else obj.info.backend_pid
                with contextlib.suppress(Exception):
                    on_loop(p, obj.close())
                if pid is not None:
                    self.await_backend_exit(pid)
            elif obj is not None:
                keep.append(ref)
        p.owned = keep

    def disconnect(self, p: Process) -> None:
        owner = owner_of(p)
        if owner is not None:  # the background dies with its process, and so does all
            if p.worker is not None and not p.worker.dead:
                unwind(p)
            self.disconnect(owner)
            super().abandon(owner)
            p.redis = p.db = p.loop = None
            return
        bg = background_of(p)
        if bg is not None and bg.worker is not None and not bg.worker.dead:
            unwind(bg)  # the loop it runs on goes with the process
        if p.worker is not None and not p.worker.dead:
            unwind(p)  # its loop must stop before its connections close on it
        self.close_owned(p)
        pid = None
        if p.db is not None and not p.db.closed and not p.db.broken:
            pid = p.db.info.backend_pid
        for conn, close in ((p.redis, "aclose"), (p.db, "close")):
            if conn is not None:
                with contextlib.suppress(Exception):
                    on_loop(p, getattr(conn, close)())
        p.redis = p.db = p.strategy = None
        if pid is not None:
            self.await_backend_exit(pid)
        if p.loop is not None:  # the process is gone, and its tasks with it
            p.loop.cancel_leftovers()
            p.loop.close()
            p.loop = None


def connections_for(servers: Any, strategy_cls: type, settings: Any, clock: Any) -> Connections:
    """Async connections for an async strategy, sync ones otherwise; a strategy
    the harness cannot drive is refused here, before anything runs."""
    refuse_undrivable(strategy_cls)
    if is_async(strategy_cls):
        return AioConnections(servers, strategy_cls, settings, clock)
    return Connections(servers, strategy_cls, settings)
