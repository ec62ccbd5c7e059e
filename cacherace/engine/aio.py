"""Async processes: a strategy whose operations are ``async def`` runs each
operation as a task on its process's own event loop, inside the process's worker.

The loop is an ordinary asyncio selector loop with two changes:

- its clock (``loop.time()``) reads virtual time, so ``asyncio.sleep``, timeouts
  and ``call_later`` count in the schedule's seconds;
- its selector knows whose loop it is. Inside a driver call it waits for the
  server as usual. Outside one, a loop with nothing ready and a timer pending (an
  ``asyncio.sleep``, a ``wait_for`` timeout) is a *sleeping* process: it parks
  until the schedule steps it and virtual time jumps to the timer, as
  ``time.sleep`` does in sync code (:mod:`.waiting`). A loop with nothing ready
  and no timer waits for something no task of its process can do: it waits, and
  a run where nobody else can help is reported stuck.

Driver calls park inside the loop's run (:mod:`.drivers.aio`); while a process
is parked, :func:`cacherace.engine.runtime.park` clears asyncio's running loop so
another process's loop can run on the same thread.

What the harness cannot drive (an operation that is a generator or an async
generator, an async strategy started from inside a running event loop) is
refused before anything runs: :func:`undrivable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import selectors
from collections.abc import Coroutine
from typing import Any

import psycopg
import redis.asyncio
from greenlet import getcurrent
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cacherace.engine.connections import Connections
from cacherace.engine.drivers.clock import MONOTONIC_BASE
from cacherace.engine.locks import LOCK_TIMEOUT_S
from cacherace.engine.process import Process
from cacherace.engine.runtime import State, unwind
from cacherace.errors import HarnessError, StrategyError

#: What an async client copies from the sync client a server hands out.
_REDIS_OPTIONS = (
    "host", "port", "db", "username", "password", "socket_timeout",
    "socket_connect_timeout", "decode_responses", "encoding", "client_name",
)  # fmt: skip


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


class _ProcessSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """The loop's selector: a wait outside a driver call is a sleep or a wait."""

    def select(self, timeout: float | None = None) -> Any:
        if timeout is None or timeout > 0:
            p = getattr(getcurrent(), "process", None)
            if p is not None and p.state is State.RUNNING:
                ready = super().select(0)
                if ready:
                    return ready
                if timeout is None:
                    p.engine.waiting.wait_until(
                        p, lambda: bool(super(_ProcessSelector, self).select(0)),
                        "an awaited event no task of its process sets", (), None,
                    )  # fmt: skip
                else:
                    p.engine.waiting.sleep(p, timeout)
                return super().select(0)
        return super().select(timeout)


class ProcessLoop(asyncio.SelectorEventLoop):  # type: ignore[misc, valid-type]
    """One process's event loop; its clock is the engine's virtual clock."""

    def __init__(self, clock: Any) -> None:
        super().__init__(_ProcessSelector())
        self._virtual = clock
        #: the task whose driver call is the step in flight, and the other tasks of
        #: the process that wait for it to end before taking their own step
        self.stepping: asyncio.Task[Any] | None = None
        self.idle: list[asyncio.Future[None]] = []

    async def turn(self) -> None:
        """In a task of this process while another task's step is in flight: wait
        for that step to end (steps of one process are one at a time too)."""
        while self.stepping is not None:
            fut = self.create_future()
            self.idle.append(fut)
            await fut

    def step_ended(self) -> None:
        self.stepping = None
        idle, self.idle = self.idle, []
        for fut in idle:
            if not fut.done():
                fut.set_result(None)

    def cancel_leftovers(self) -> None:
        """From the hub, between runs: tasks an earlier run left behind (a
        fire-and-forget refresh) are cancelled, so no run inherits another's work."""
        if self.is_running() or self.is_closed():
            return
        left = [t for t in asyncio.all_tasks(self) if not t.done()]
        for t in left:
            t.cancel()
        if left:
            self.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        self.step_ended()

    def time(self) -> float:
        return MONOTONIC_BASE + self._virtual.now


def drive(p: Process, coro: Coroutine[Any, Any, Any]) -> Any:
    """In ``p``'s worker: run one operation's coroutine to its end on ``p``'s loop.
    Tasks it spawned and left running go on with the process's next operation."""
    loop = p.loop
    if loop is None:
        coro.close()
        raise HarnessError(f"{p.name}: an async operation on a process built without a loop")
    return loop.run_until_complete(coro)


def on_loop(p: Process, coro: Coroutine[Any, Any, Any]) -> Any:
    """From the hub: run ``coro`` (connecting, closing) on ``p``'s idle loop."""
    return p.loop.run_until_complete(coro)


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

    def renew(self, p: Process) -> None:
        if p.loop is not None:
            p.loop.cancel_leftovers()
        super().renew(p)

    def abandon(self, p: Process) -> None:
        super().abandon(p)
        if p.loop is not None:
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
