"""Connections: the run's servers as the engine sees them, and who owns which
connection.

Each server restart bumps its epoch: connections from an older epoch are dead,
and a process reconnects before its next operation (as a pool with a health check
would), so no example inherits a dead connection. A process owns the connections
it opens; abandoning its operation closes them, because it may be inside a
transaction (holding row locks the next reset would wait for), and a ``with
conn.transaction()`` block whose exit did not run leaves psycopg's own
transaction state behind.

Two rules keep one run from leaking into the next:

- Every process's connection ends its transaction, or is closed, when its run ends
  (:meth:`Connections.end_run`, before the reset touches the tables). An operation
  whose ``with conn.transaction()`` block did not run its exit (a driver-call fault
  on its BEGIN, COMMIT or ROLLBACK) loses its connection when it ends
  (:meth:`Connections.ended`): psycopg's own bookkeeping no longer matches the
  server's, so that connection would nest every later block in savepoints of a
  transaction nobody commits, holding its row locks.
- Every statement the harness makes on its own connection is bounded
  (``lock_timeout``, ``statement_timeout``): a lock held from outside the run
  becomes one error naming its holder (:func:`bounded`), never a hang.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from cacherace.engine.drivers.calls import POSTGRES
from cacherace.engine.drivers.ownership import close_owned, owning
from cacherace.engine.locks import LOCK_POLL_S, LOCK_TIMEOUT_S
from cacherace.engine.process import Process
from cacherace.engine.runtime import State, unwind
from cacherace.errors import HarnessError

#: Bounds on the harness's own statements (a reset, a peek, a lock query).
HARNESS_LOCK_TIMEOUT_S = 5
HARNESS_STATEMENT_TIMEOUT_S = 30
#: What the run's connections are called in ``pg_stat_activity`` (naming a holder).
APPLICATION = "cacherace"


class Servers:
    """The two servers, whether each is up, its epoch, and the harness's own
    (unscheduled) admin connection to each."""

    def __init__(self, redis_server: Any, pg_server: Any) -> None:
        self.redis_server = redis_server
        self.pg_server = pg_server
        self.admin_redis = redis_server.client()
        self.admin_db = self.connect_admin()
        self.cache_up = True
        self.db_up = True
        self.cache_epoch = 0
        self.db_epoch = 0
        self.paused: set[str] = set()  # targets (redis, postgres) that hang (engine.hangs)

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
        self.admin_db = self.connect_admin()

    def connect_admin(self) -> Any:
        """The harness's connection, every statement on it bounded."""
        conn = self.pg_server.connect(autocommit=True, application_name=f"{APPLICATION} harness")
        conn.execute(f"SET lock_timeout = '{HARNESS_LOCK_TIMEOUT_S}s'")
        conn.execute(f"SET statement_timeout = '{HARNESS_STATEMENT_TIMEOUT_S}s'")
        return conn

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
        self._deferred: list[int] | None = None  # backends to await once the run has ended

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
        if POSTGRES in s.paused:  # what psycopg raises after libpq's connect_timeout (measured)
            raise psycopg.errors.ConnectionTimeout("connection timeout expired")
        cache_epoch, db_epoch = p.epochs
        if p.db is not None and (db_epoch != s.db_epoch or p.db.broken):
            p.db.close()
        if p.db is None or p.db.closed:
            p.db = s.pg_server.connect(autocommit=True, application_name=f"{APPLICATION} {p.name}")
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
        if not self.servers.db_up or POSTGRES in self.servers.paused:
            return  # a paused server cannot be asked: its resume waits instead
        if self._deferred is not None:
            self._deferred.append(pid)  # ending the run: awaited after its rollbacks
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

    def ended(self, p: Process) -> None:
        """``p``'s operation ended: a connection of its whose transaction block did
        not run its exit is lost now, as a real connection failure loses it (the
        server rolls its transaction back, its locks go before the next step)."""
        if (p.db is not None and _lost(p.db)) or (p.owned and any(map(_lost, _owned_db(p)))):
            self.lose(p)

    def end_run(self, processes: Iterable[Process]) -> list[str]:
        """The run is over: abandon what is in flight, then end every transaction a
        process's connections left open (a rollback, or closing them when psycopg's
        bookkeeping is out of step). The names of the processes that had one."""
        # Backends are awaited only once every transaction has ended: a closed
        # connection whose statement waits for another's row lock keeps its backend
        # until that lock goes, so waiting for it first would wait for a lock that
        # only a later process's rollback releases.
        processes = list(processes)
        self._deferred = []
        try:
            for p in processes:
                self.abandon(p)
            left = [p.name for p in processes if self.end_transaction(p)]
        finally:
            pids, self._deferred = self._deferred, None
        for pid in pids:
            self.await_backend_exit(pid)
        return left

    def end_transaction(self, p: Process) -> bool:
        """End the transaction ``p``'s connections left open; True when there was one."""
        if not self.servers.db_up or p.epochs[1] != self.servers.db_epoch:
            return False  # its server is down or restarted: that backend and its locks are gone
        if POSTGRES in self.servers.paused:
            return False  # it cannot be asked; the resume's heal ends it (engine.nemesis)
        db, theirs = p.db, any(map(_open, _owned_db(p)))  # a library's own connections
        if not theirs and (db is None or not _open(db)):
            return False
        if not theirs and isinstance(db, psycopg.Connection) and not _lost(db):
            with contextlib.suppress(psycopg.Error):
                db.rollback()  # on the hub: not a step
                return True
        self.lose(p)
        return True

    def lose(self, p: Process) -> None:
        """Close ``p``'s connection to the database and wait for the server to end its
        backend (its transaction rolled back): the next operation reconnects. Anything
        else (an async connection, a library's own) takes all of ``p``'s connections."""
        db = p.db
        if db is None or not isinstance(db, psycopg.Connection) or any(map(_open, _owned_db(p))):
            self.disconnect(p)
            return
        pid = None if db.closed or db.broken else db.info.backend_pid
        with contextlib.suppress(Exception):
            db.close()
        if pid is not None:
            self.await_backend_exit(pid)

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


def _owned_db(p: Process) -> list[Any]:
    return [c for ref in p.owned if isinstance(c := ref(), psycopg.BaseConnection)]


def _lost(conn: Any) -> bool:
    """A ``with conn.transaction()`` block whose exit did not run: psycopg still
    counts it (a private counter, read because nothing public says it), while the
    server's transaction goes on; ``rollback()`` refuses such a connection."""
    return not conn.closed and getattr(conn, "_num_transactions", 0) > 0


def _open(conn: Any) -> bool:
    """Inside a transaction, or in the middle of a call (a closed one is neither)."""
    if conn.closed:
        return False
    return _lost(conn) or conn.pgconn.transaction_status != TransactionStatus.IDLE


#: Who could hold a lock the harness waited for: every transaction open on this
#: database but the harness's own (row locks are held by open transactions only).
_HOLDERS = (
    "SELECT pid, application_name, state, left(regexp_replace(query, '\\s+', ' ', 'g'), 80)"
    " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND backend_type = 'client backend' AND xact_start IS NOT NULL ORDER BY xact_start"
)


@contextlib.contextmanager
def bounded(servers: Servers, processes: Iterable[Process], what: str) -> Iterator[None]:
    """Harness statements (``what``) that waited past their bound become one
    :class:`HarnessError` naming who holds transactions open on the database."""
    try:
        yield
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
        raise HarnessError(blocked_message(servers, processes, what, exc)) from None


def blocked_message(servers: Servers, processes: Iterable[Process], what: str,
                    exc: BaseException) -> str:  # fmt: skip
    ours = {p.db.info.backend_pid: p.name for p in processes
            if p.db is not None and not p.db.closed and not p.db.broken}  # fmt: skip
    setting = (
        "lock_timeout" if isinstance(exc, psycopg.errors.LockNotAvailable) else "statement_timeout"
    )
    try:
        db = servers.admin_db
        [(bound,)] = db.execute(f"SELECT current_setting('{setting}')").fetchall()
        rows = db.execute(_HOLDERS).fetchall()
    except psycopg.Error as again:  # the server went away meanwhile
        bound, rows = "?", []
        setting = f"{setting}, then {type(again).__name__}"
    held = "; ".join(_holder(pid, app, state, query, ours) for pid, app, state, query in rows)
    return (
        f"{what} waited past its bound ({setting} {bound}) for a lock held"
        f" by {held or 'a transaction that has ended since'}: end that transaction (or stop"
        " the program holding it) and run again"
    )


def _holder(pid: int, app: str, state: str, query: str, ours: dict[int, str]) -> str:
    who = f"this run's {ours[pid]}" if pid in ours else repr(app or "no application_name")
    return f"backend {pid} ({who}, {state}, last statement `{query}`)"
