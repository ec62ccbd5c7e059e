"""Invalidations of server-assisted client-side caching, delivered when the schedule says.

redis-py's client-side cache (RESP3, ``cache_config``) keeps replies in the
client; Redis tracks what each connection read (``CLIENT TRACKING ON``) and, when
a key changes, pushes an ``invalidate`` message to every connection that read it.
redis-py applies the pushes it finds on the socket at its next command; a cache
hit sends nothing. So whether a read after another client's write is served from
the stale local copy depends on whether the push has arrived: a race on the
network, which the harness turns into a schedule choice, ``deliver``.

How, exactly (each rule keeps runs deterministic):

- After every Redis step and every change the nemesis makes to Redis, one PING
  on the harness's connection is a barrier: Redis writes every reply and push of
  an event-loop iteration before it reads the next command, so once the PONG is
  back every push the step caused is in its socket (loopback delivers on write).
  The engine then reads those pushes off the sockets with redis-py's own parser
  and holds them, per connection: until delivered, a cache hit finds nothing to
  apply and serves what it holds.
- A connection's own pushes (a client invalidating what it read itself) come in
  the same write as the reply that caused them, so they apply at once.
- A process that sends a command on a connection reads the held pushes before the
  reply, as TCP delivers them in order: they apply there, inside its step.
- ``deliver cN`` applies cN's held pushes; it is offered only when one would
  remove a cached entry. Time advancing delivers everything first (a push late
  by a second is not a race the claims are about), and so does the settle.

Each application is recorded as a ``Delivery`` event in the receiving process's
lane. Only processes whose code builds a client with ``cache_config`` are
touched; every other run skips all of this with one attribute test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from cacherace.model.history import Delivery

#: What a held push carries: the keys it invalidates (None: the whole cache).
Push = list[Any] | None


def _keys(data: Push) -> tuple[str, ...]:
    if data is None:
        return ("*",)
    return tuple(k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k) for k in data)


class Tracked:
    """One tracking connection: redis-py's proxy (which owns the client-side
    cache), the socket connection under it, and the pushes held for it."""

    __slots__ = ("conn", "held", "process", "proxy")

    def __init__(self, process: Any, proxy: Any, conn: Any) -> None:
        self.process = process
        self.proxy = proxy
        self.conn = conn
        self.held: list[Push] = []

    def effective(self) -> bool:
        """Whether applying the held pushes would remove a cached entry now."""
        collection = self.proxy._cache.collection
        if not collection:
            return False
        for data in self.held:
            if data is None:
                return True
            wanted = set(_keys(data))
            if any((k.decode() if isinstance(k, bytes) else k) in wanted
                   for entry in collection for k in entry.redis_keys):  # fmt: skip
                return True
        return False


class Invalidations:
    """The engine's collaborator for client-side caches (see the module docstring)."""

    def __init__(self, servers: Any, recorder: Any) -> None:
        self.servers = servers
        self.recorder = recorder
        self.tracked: dict[int, Tracked] = {}  # id(conn) -> its tracking
        #: some client built a client-side cache (explorers offer deliveries)
        self.used = False
        self._capturing: list[Push] | None = None
        self._last_io: Any = None  # the connection the current step read from
        self.reads = 0  # replies read off tracking connections
        #: pushes held for a process by another's transition (or the nemesis's): it
        #: changed what that process's cache serves next, which no key of its own
        #: footprint says (the systematic explorer reads it: footprint rule 6)
        self.moved = 0
        #: the last reply a client-side cache gave was its own (no socket read)
        self.local = False

    # -- the driver hooks' side (cacherace.engine.drivers.caching) -----------------
    def track(self, p: Any, proxy: Any, conn: Any) -> None:
        """``conn`` (under ``proxy``) turned tracking on, in process ``p``."""
        self.used = True
        self.tracked[id(conn)] = Tracked(p, proxy, conn)

    def forget(self, conn: Any) -> None:
        """``conn`` disconnected: redis-py flushed its cache, its pushes are gone."""
        self.tracked.pop(id(conn), None)

    def hold(self, push: list[Any]) -> bool:
        """Whether the engine holds ``push`` (``[b"invalidate", keys]``) instead of
        redis-py applying it: while the engine reads pushes off the sockets."""
        if self._capturing is None:
            return False
        self._capturing.append(push[1])
        return True

    def before_read(self, conn: Any) -> None:
        """A process reads a reply on ``conn``: the held pushes come first."""
        self._last_io = conn
        t = self.tracked.get(id(conn))
        if t is not None and t.held:
            self._apply(t)

    # -- the engine's side ---------------------------------------------------------
    @contextlib.contextmanager
    def landing(self) -> Iterator[None]:
        """Time passes in this block: pushes in flight land before it, the ones it
        causes (expiries) are held after it."""
        if self.tracked:
            self.deliver_all()
        yield
        if self.tracked:
            self.after(None)

    def after(self, p: Any | None) -> None:
        """Hold the pushes an event caused (``p``: the process whose step it was;
        pushes on the connection it read from are its own, and apply at once)."""
        last, self._last_io = self._last_io, None
        if not self.tracked or not self.servers.cache_up or self.servers.paused:
            return
        with contextlib.suppress(Exception):  # the barrier: see the module docstring
            self.servers.admin_redis.ping()
        for t in list(self.tracked.values()):
            hangs = t.process.engine.nemesis.hangs
            if t.process.name in hangs.hung or t.process.name in hangs.calls:
                continue  # its reply is still to come on that socket: its own read takes it
            pushes = self._read_pushes(t)
            if pushes:
                t.held.extend(pushes)
                if t.process is not p:
                    self.moved += 1  # another process's cache: see footprint rule 6
                elif t.conn is last:
                    self._apply(t)

    def deliverable(self, name: str) -> bool:
        return any(t.process.name == name and t.held and t.effective()
                   for t in self.tracked.values())  # fmt: skip

    def deliver(self, name: str) -> bool:
        """Apply ``name``'s held pushes; False when none would change its cache."""
        if not self.deliverable(name):
            return False
        for t in list(self.tracked.values()):
            if t.process.name == name and t.held:
                self._apply(t)
        return True

    def deliver_all(self) -> None:
        for t in list(self.tracked.values()):
            if t.held:
                self._apply(t)

    # -- inside --------------------------------------------------------------------
    def _read_pushes(self, t: Tracked) -> list[Push]:
        conn = t.conn
        if getattr(conn, "_sock", None) is None:
            self.forget(conn)
            return []
        got: list[Push] = []
        self._capturing = got
        try:
            while conn.can_read(timeout=0):
                conn.read_response(push_request=True, timeout=0, disconnect_on_error=False)
        except Exception:  # a dead socket: the process finds out at its next command
            pass
        finally:
            self._capturing = None
        return got

    def _apply(self, t: Tracked) -> None:
        held, t.held = t.held, []
        keys: dict[str, None] = {}  # the keys of the pushes that removed something
        for data in held:
            before = len(t.proxy._cache.collection)
            t.proxy._on_invalidation_callback([b"invalidate", data])
            if len(t.proxy._cache.collection) != before:
                keys.update(dict.fromkeys(_keys(data)))
        if keys:
            self.recorder.event(Delivery, process=t.process.name, keys=tuple(keys))
