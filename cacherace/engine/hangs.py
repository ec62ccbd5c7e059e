"""Hangs (Jepsen's "pause"): driver calls to a paused server, and what becomes of them.

Measured on Redis 7 and PostgreSQL 15 (``tests/servers/pause_checks.py``,
``tests/engine/test_hangs.py``): a paused server (SIGSTOP of it and of every
backend it forked; ``docker pause``) keeps its connections and answers nothing
until it resumes. A request that reached it before its client gave up still takes
effect on resume: Redis runs the command; PostgreSQL runs an autocommit statement
or a COMMIT, and rolls back a transaction whose connection is gone. redis-py gives
up after its ``socket_timeout`` (``TimeoutError``, the connection dropped). psycopg
has no client-side timeout for a statement: ``statement_timeout`` is the server's,
and a frozen server cannot fire it (a statement sent to it completes after resume);
only connecting times out (``ConnectionTimeout`` after libpq's ``connect_timeout``).

The engine's model, so that no wall time passes:

- A Redis call to a paused cache is sent, as redis-py sends it, and parks as
  ``WAITING`` at its reply; the cache runs what it was sent in arrival order when
  it resumes. A PostgreSQL call to a paused database parks before it is sent:
  PostgreSQL's backends run concurrently once resumed, so calls sent together would
  finish in an order no schedule chose; sent one at a time they finish in one of
  the orders the real server allows.
- ``cache-resume`` / ``db-resume``: the hung calls complete in the order they hung,
  each at once (the resume's doing, as a released lock's waiter).
- ``client-timeout`` (Redis): virtual time moves to the call's deadline (when it
  hung plus the client's ``socket_timeout``) and redis-py's own read times out at
  once (the frozen server cannot answer), so the strategy sees redis-py's
  ``TimeoutError``, the connection dropped, and its operation ends as it lets it
  (a write: ``info``).
- A client crash while hung closes its connections; a hung PostgreSQL call is
  sent first (really it was sent before the crash).
- Either way the given-up request sits in the frozen server's socket buffer and
  the real server decides what it does on resume; the resume waits until it was
  handled (a PostgreSQL backend exited; Redis handles it before the harness's next
  command, which arrives after it) and records how many there were.

Inexact: keys whose virtual TTL passed while the cache was paused are deleted at
resume after the given-up requests ran; a key a given-up request may have written
keeps what it left, its deadline re-read. Blocking pops (BLPOP, ...) and async
strategies are not paused (their calls cannot park here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenlet import getcurrent
from redis.connection import AbstractConnection

from cacherace.engine.drivers.calls import POSTGRES, REDIS, Call, redis_keys
from cacherace.engine.observers.expiry import _READ_ONLY
from cacherace.engine.runtime import State, park
from cacherace.errors import ClientCrashed
from cacherace.model.actions import CLIENT_CRASH

#: The socket timeout of a given-up read: the frozen server cannot answer within it
#: (nor within any time), so redis-py's own timeout path runs at once.
GIVE_UP_S = 0.001
#: Processes sending a call they are giving up on -> why (client-timeout or -crash).
GIVING_UP: dict[Any, str] = {}
_hooked = False


@dataclass(slots=True)
class Hang:
    """One call parked at a paused server."""

    process: Any
    call: Call
    since: float  # virtual time it hung
    give_up: str | None = None


def before(p: Any, call: Call) -> None:
    """In ``p``'s worker (:meth:`Stepper.begin`), when ``call``'s server is paused."""
    p.engine.nemesis.hangs.before(p, call)


def giving_up(p: Any) -> None:
    """A psycopg call that a crashing client gives up on was sent: it dies now."""
    if GIVING_UP.pop(p, None) is not None:
        p.state = State.CRASHED  # no further call: its finally blocks unwind
        raise ClientCrashed("crashed while its call waited for the paused server")


def install() -> None:
    """Hook redis-py's reply read, where a call to a paused cache waits (idempotent;
    installed at the first pause, so runs without hangs never pay for it)."""
    global _hooked
    if _hooked:
        return
    _hooked = True
    original = AbstractConnection.read_response

    def read_response(self: Any, *args: Any, **kwargs: Any) -> Any:
        p = getattr(getcurrent(), "process", None)
        if p is None or p.state is not State.CALLING or REDIS not in p.engine.servers.paused:
            return original(self, *args, **kwargs)
        if p.engine.nemesis.hangs.wait(p, None) is not None and self._sock is not None:
            self._sock.settimeout(GIVE_UP_S)  # given up: redis-py's own timeout, now
        return original(self, *args, **kwargs)

    AbstractConnection.read_response = read_response  # type: ignore[method-assign]


class Hangs:
    """Which servers are paused, who hangs on them, and what waits for their resume."""

    def __init__(self, servers: Any, clock: Any) -> None:
        self.servers = servers
        self.clock = clock
        self.paused: set[str] = servers.paused
        self.hung: dict[str, Hang] = {}  # in the order they hung
        self.calls: dict[str, Call] = {}  # Redis calls sent to a paused cache
        self.deferred: list[str] = []  # keys whose virtual TTL passed while the cache was paused
        self.given_up_keys: list[str] = []
        self.given_up_pids: list[int] = []

    def clear(self) -> None:
        self.calls.clear()
        self.deferred.clear()
        self.given_up_keys.clear()
        self.given_up_pids.clear()

    def before(self, p: Any, call: Call) -> None:
        if call.target == REDIS:
            self.calls[p.name] = call  # it is sent; its reply read waits (install)
        elif self.wait(p, call) is not None:
            GIVING_UP[p] = CLIENT_CRASH  # sent, then the crash (locks.wait_for_reply)

    def wait(self, p: Any, call: Call | None) -> str | None:
        """In ``p``'s worker: park as waiting while the server is paused; None once
        it resumed, else why the client gives up."""
        call = call or self.calls.pop(p.name, None) or Call(REDIS, "(reply)")
        h = self.hung[p.name] = Hang(p, call, self.clock.now)
        state, p.state = p.state, State.WAITING
        try:
            while call.target in self.paused and h.give_up is None:
                park(p)
                if p.state is State.CRASHED:
                    raise ClientCrashed()
        finally:
            self.hung.pop(p.name, None)
            if p.state is State.WAITING:
                p.state = state
        return h.give_up

    def on(self, target: str) -> list[Hang]:
        return [h for h in self.hung.values() if h.call.target == target]

    def give_up(self, p: Any, why: str) -> Hang | None:
        """From the hub: ``p``'s client gives up on its hung call (``why``). A Redis
        call was sent and times out now (a crash: its connection closes after);
        a PostgreSQL call is sent and dies. Its worker runs until it parks or ends."""
        h = self.hung.get(p.name)
        if h is None:
            return None
        if h.call.target == REDIS:  # the keys it may have written, at resume
            self.given_up_keys += [k for args in h.call.commands for k in redis_keys(args)
                                   if str(args[0]).upper() not in _READ_ONLY]  # fmt: skip
            if why == CLIENT_CRASH:
                return h  # the crash closes its connection: nothing to run
        h.give_up = why
        try:
            p.engine._switch(p)
        finally:
            GIVING_UP.pop(p, None)  # a call that failed before its reply was awaited
        return h

    def can_time_out(self, name: str) -> bool:
        """Whether ``client-timeout`` applies to ``name``: it hangs on Redis, and its
        client has a timeout (psycopg has none for a statement)."""
        h = self.hung.get(name)
        return (
            h is not None and h.call.target == REDIS and self.client_timeout(h.process) is not None
        )

    def client_timeout(self, p: Any) -> float | None:
        """The process's Redis client timeout (redis-py's ``socket_timeout``), if any."""
        client = p.redis
        if client is None:
            return None
        t = client.connection_pool.connection_kwargs.get("socket_timeout")
        return None if t is None else float(t)

    def expire(self, due: list[str]) -> None:
        """Keys whose virtual deadline passed: deleted, or at resume if paused."""
        if not due:
            return
        if REDIS in self.paused:
            self.deferred += due
        elif self.servers.cache_up:
            self.servers.admin_redis.delete(*due)

    def after_resume(self, target: str, connections: Any, tracker: Any) -> None:
        """Once ``target`` runs again: wait for what given-up requests did, and do
        what the pause held back (expiries)."""
        if target == POSTGRES:
            for pid in self.given_up_pids:
                connections.await_backend_exit(pid)
            self.given_up_pids.clear()
            return
        keys = set(self.given_up_keys)
        due = [k for k in dict.fromkeys(self.deferred) if k not in keys]
        if due:  # sent after the given-up requests, so handled after them
            self.servers.admin_redis.delete(*due)
        if keys:
            tracker.refresh(sorted(keys), self.clock.now)
        self.deferred.clear()
        self.given_up_keys.clear()
