"""Connections: the run's servers as the engine sees them, and who owns which
connection.

Each server restart bumps its epoch: connections from an older epoch are dead,
and a process reconnects before its next operation (as a pool with a health check
would), so no example inherits a dead connection. A process owns the connections
it opens; abandoning its operation closes them, because it may be inside a
transaction (holding row locks the next reset would wait for), and a ``with
conn.transaction()`` block whose exit did not run leaves psycopg's own
transaction state behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from cacherace.engine.drivers.ownership import close_owned, owning
from cacherace.engine.locks import LOCK_POLL_S, LOCK_TIMEOUT_S
from cacherace.engine.process import Process
from cacherace.engine.runtime import State, unwind


class Servers:
    """The two servers, whether each is up, its epoch, and the harness's own
    (unscheduled) admin connection to each."""

    def __init__(self, redis_server: Any, pg_server: Any) -> None:
        self.redis_server = redis_server
        self.pg_server = pg_server
        self.admin_redis = redis_server.client()
        self.admin_db = pg_server.connect(autocommit=True)
        self.cache_up = True
        self.db_up = True
        self.cache_epoch = 0
        self.db_epoch = 0

    @property
    def epochs(self) -> tuple[int, int]:
        return (self.cache_epoch, self.db_epoch)

    def restart_cache(self) -> bool:
        """Restart Redis; True when it came back at another address (a container's
        mapped port), so the admin client was rebuilt."""
        before = (self.redis_server.host, self.redis_server.port)
        self.redis_server.restart()
        self.cache_up = True
        self.cache_epoch += 1
        moved = (self.redis_server.host, self.redis_server.port) != before
        if moved:
            self.admin_redis.close()
            self.admin_redis = self.redis_server.client()
        return moved

    def restart_db(self) -> None:
        self.pg_server.restart()
        self.db_up = True
        self.db_epoch += 1
        with contextlib.suppress(Exception):
            self.admin_db.close()
        self.admin_db = self.pg_server.connect(autocommit=True)

    def close(self) -> None:
        for closer in (self.admin_redis.close, self.admin_db.close):
            with contextlib.suppress(Exception):
                closer()


class Connections:
    """Gives processes working connections and a fresh strategy object, and takes
    them away when a process dies."""

    def __init__(self, servers: Servers, strategy_cls: type, settings: Any) -> None:
        self.servers = servers
        self.strategy_cls = strategy_cls
        self.settings = settings

    def stale(self, p: Process) -> bool:
        return (
            p.strategy is None
            or p.db is None
            or p.db.closed
            or p.db.broken
            or p.epochs != self.servers.epochs
        )

    def renew(self, p: Process) -> None:
        """At a reset: a fresh strategy object per run; connections are reused
        when they are healthy and idle."""
        if self.stale(p) or p.db.info.transaction_status != TransactionStatus.IDLE:
            self.connect(p)
        else:
            self.build(p)

    def connect(self, p: Process) -> None:
        """Working connections and a fresh strategy object for ``p`` (a restarted
        application process after a crash, or one whose server restarted)."""
        s = self.servers
        cache_epoch, db_epoch = p.epochs
        if p.db is not None and (db_epoch != s.db_epoch or p.db.broken):
            p.db.close()
        if p.db is None or p.db.closed:
            p.db = s.pg_server.connect(autocommit=True)
            p.db.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
        elif p.db.info.transaction_status != TransactionStatus.IDLE:
            p.db.rollback()
        if p.redis is not None and cache_epoch != s.cache_epoch:
            p.redis.close()
            p.redis = None
        if p.redis is None:
            p.redis = s.redis_server.client()
        p.epochs = s.epochs
        self.build(p)

    def build(self, p: Process) -> None:
        """A fresh strategy object for ``p``: what the old one opened is closed, and
        what the new one opens (a library's own clients) belongs to ``p``."""
        for pid in close_owned(p):
            self.await_backend_exit(pid)
        p.incarnation += 1
        p.context = contextvars.Context()
        with owning(p):
            p.strategy = self.strategy_cls(p.redis, p.db, self.settings)
        p.dirty = False

    def disconnect(self, p: Process) -> None:
        pid = None
        if p.db is not None and not p.db.closed and not p.db.broken:
            pid = p.db.info.backend_pid
        for conn in (p.redis, p.db):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        p.redis = p.db = p.strategy = None
        pids = close_owned(p)  # a library's own clients and connections too
        for backend in ([pid] if pid is not None else []) + pids:
            self.await_backend_exit(backend)

    def await_backend_exit(self, pid: int) -> None:
        """The server ends a closed connection's backend (rolling back its
        transaction, releasing its locks) on its own time; wait for it, so what the
        next step finds never depends on how fast that happened."""
        if not self.servers.db_up:
            return
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        with contextlib.suppress(psycopg.Error):
            while time.monotonic() < deadline:
                row = self.servers.admin_db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                if not row or row[0] == 0:
                    return
                time.sleep(LOCK_POLL_S / 4)

    def abandon(self, p: Process) -> None:
        """Stop ``p``'s in-flight operation without letting it run another call."""
        if p.worker is not None and not p.worker.dead:
            unwind(p)
            self.disconnect(p)
        p.worker = None
        p.pending = None
        p.inject = None
        p.blocked = None
        p.state = State.IDLE
        p.pace.reset()
