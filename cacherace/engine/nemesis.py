"""The nemesis (Jepsen's word): faults, applied to the processes and servers the
engine owns, each recorded as a ``Fault`` event under its one name.

Client crash: the process dies between two steps; its operation is abandoned
(outcome info), its connections close, and a new process takes its place for its
next operation. Driver-call faults: the next call fails before it reaches the
server, or after the server applied it; either way the caller sees a connection
error. Cache and database crash (SIGKILL) and restart; eviction of a key. Cache
and database pause (SIGSTOP / docker pause) and resume, and a client's timeout
firing on a call that waits for a paused server (see :mod:`.hangs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cacherace.engine import hangs
from cacherace.engine.aio import is_async
from cacherace.engine.drivers.calls import POSTGRES, REDIS
from cacherace.engine.hangs import Hangs
from cacherace.engine.process import Process
from cacherace.model.actions import (
    CACHE_CRASH,
    CACHE_PAUSE,
    CACHE_RESTART,
    CACHE_RESUME,
    CLIENT_CRASH,
    CLIENT_TIMEOUT,
    DB_CRASH,
    DB_PAUSE,
    DB_RESTART,
    DB_RESUME,
    EVICT,
    FAIL_AFTER,
    FAIL_BEFORE,
)
from cacherace.model.history import Fault


class Nemesis:
    def __init__(self, servers: Any, processes: Mapping[str, Process], recorder: Any,
                 connections: Any, observers: Any, wake: Callable[[], None],
                 strategy_cls: Any, settings: Any) -> None:  # fmt: skip
        self.servers = servers
        self.processes = processes
        self.recorder = recorder
        self.connections = connections
        self.observers = observers
        self.wake = wake  # lets statements waiting for a lock learn it is gone
        self.strategy_cls = strategy_cls
        self.settings = settings
        self.hangs = Hangs(servers, observers.clock)

    # -- processes ----------------------------------------------------------------------
    def crash_client(self, name: str) -> bool:
        p = self.processes[name]
        if p.worker is None:
            return False
        self.recorder.event(Fault, fault=CLIENT_CRASH, process=name,
                            detail=f"at {p.pending.shown()}" if p.pending else "")  # fmt: skip
        self.hangs.give_up(p, CLIENT_CRASH)  # a hung call was sent: it may still run
        if POSTGRES in self.servers.paused and p.db is not None and not p.db.closed:
            self.hangs.given_up_pids.append(p.db.info.backend_pid)  # ends at the resume
        self.connections.disconnect(p)  # the server sees them drop: its transaction rolls back
        self.connections.abandon(p)
        self.wake()  # its locks are gone
        return True

    def fail_next_call(self, name: str, when: str) -> bool:
        if when not in (FAIL_BEFORE, FAIL_AFTER):
            raise ValueError(f"unknown driver-call fault {when!r}")
        p = self.processes[name]
        if p.worker is None or p.inject is not None:
            return False
        p.inject = when
        self.recorder.event(Fault, fault=when, process=name,
                            detail=p.pending.shown() if p.pending else "")  # fmt: skip
        return True

    def timeout_client(self, name: str) -> bool:
        """``name``'s client gives up on a call that waits for a paused Redis, at its
        ``socket_timeout`` in virtual time (psycopg has none for a statement)."""
        p = self.processes[name]
        h = self.hangs.hung.get(name)
        if h is None or not self.hangs.can_time_out(name):
            return False
        timeout = self.hangs.client_timeout(p) or 0.0
        late = h.since + timeout - self.observers.clock.now
        if late > 0:
            p.engine.advance(late)
        self.recorder.event(Fault, fault=CLIENT_TIMEOUT, process=name,
                            detail=f"after {timeout:g} s: {h.call.shown()}")  # fmt: skip
        self.hangs.give_up(p, CLIENT_TIMEOUT)
        return True

    # -- servers ------------------------------------------------------------------------
    def crash_cache(self) -> bool:
        s = self.servers
        if not s.cache_up:
            return False
        s.redis_server.crash()
        s.cache_up = False
        self.recorder.event(Fault, fault=CACHE_CRASH, detail=s.redis_server.persistence)
        self._unpaused(REDIS)
        return True

    def restart_cache(self) -> bool:
        if self.servers.cache_up:  # up, or paused: resume heals a pause
            return False
        kept = self._restart_cache()
        self.recorder.event(Fault, fault=CACHE_RESTART, detail=f"kept {kept} keys")
        return True

    def _restart_cache(self) -> int:
        if self.servers.restart_cache():
            self.observers.tracker.admin = self.servers.admin_redis
        self.observers.tracker.refresh_all(self.observers.clock.now)
        return int(self.servers.admin_redis.dbsize())

    def crash_db(self) -> bool:
        s = self.servers
        if not s.db_up:
            return False
        s.pg_server.crash()
        s.db_up = False
        self.recorder.event(Fault, fault=DB_CRASH)
        self._unpaused(POSTGRES)
        self.wake()  # waiting statements get their connection error
        return True

    def restart_db(self) -> bool:
        if self.servers.db_up:
            return False
        self.servers.restart_db()
        self.recorder.event(Fault, fault=DB_RESTART)
        self.observers.timeline.observe(None)  # what survived the crash
        return True

    def pause_cache(self) -> bool:
        return self._pause(REDIS, self.servers.redis_server, CACHE_PAUSE)

    def pause_db(self) -> bool:
        return self._pause(POSTGRES, self.servers.pg_server, DB_PAUSE)

    def _pause(self, target: str, server: Any, fault: str) -> bool:
        up = self.servers.cache_up if target == REDIS else self.servers.db_up
        if not up or target in self.servers.paused or not server.can_crash:
            return False
        if is_async(self.strategy_cls):  # its calls would block the one thread
            return False
        hangs.install()
        server.pause()
        self.servers.paused.add(target)
        self.recorder.event(Fault, fault=fault)
        return True

    def resume_cache(self) -> bool:
        return self._resume(REDIS, self.servers.redis_server, CACHE_RESUME)

    def resume_db(self) -> bool:
        return self._resume(POSTGRES, self.servers.pg_server, DB_RESUME)

    def _resume(self, target: str, server: Any, fault: str | None) -> bool:
        if target not in self.servers.paused:
            return False
        given_up = self.hangs.given_up_keys if target == REDIS else self.hangs.given_up_pids
        n = len(given_up)
        server.resume()
        self.servers.paused.discard(target)
        if fault is not None:
            self.recorder.event(Fault, fault=fault,
                                detail=f"{n} given-up request{'s' * (n != 1)} could run" if n
                                else "")  # fmt: skip
        self.hangs.after_resume(target, self.connections, self.observers.tracker)
        if fault is not None:  # unrecorded: between runs, whose work is abandoned
            if target == POSTGRES:
                self.observers.timeline.observe(None)  # what given-up requests committed
            self._unpaused(target, crashed=False)
        return True

    def resume_all(self) -> None:
        """Settle: every paused server resumes (recorded)."""
        self.resume_cache()
        self.resume_db()

    def _unpaused(self, target: str, *, crashed: bool = True) -> None:
        """``target`` runs again (resumed) or died (crashed): calls that hung on it
        go on, in the order they hung, each completing now or failing."""
        if crashed:  # nothing given up can run any more
            self.servers.paused.discard(target)
            if target == REDIS:
                self.hangs.deferred.clear()
                self.hangs.given_up_keys.clear()
            else:
                self.hangs.given_up_pids.clear()
        for h in self.hangs.on(target):
            if h.process.worker is not None:
                h.process.engine._switch(h.process)

    def expire(self, due: list[str]) -> None:
        """Keys whose virtual deadline passed are deleted (at resume if paused)."""
        self.hangs.expire(due)

    def unpause(self) -> None:
        """Paused servers resume, unrecorded (a new run, or the engine's close)."""
        for target, server in ((REDIS, self.servers.redis_server),
                               (POSTGRES, self.servers.pg_server)):  # fmt: skip
            if target in self.servers.paused:
                self._resume(target, server, None)
        self.hangs.clear()

    def heal(self) -> None:
        """Before a new run: servers left down come back, unrecorded."""
        if self.servers.paused:
            self.unpause()  # then end what the pause kept the run's end from ending
            self.connections.end_run(self.processes.values())
        if not self.servers.cache_up:
            self._restart_cache()
        if not self.servers.db_up:
            self.servers.restart_db()

    def evict(self, key: str) -> bool:
        """The cache drops ``key`` (memory pressure): its cached entries vanish."""
        if not self.servers.cache_up or REDIS in self.servers.paused:
            return False
        names = self.observers.waiting.evictable(key)
        if names:
            self.servers.admin_redis.delete(*names)
        for n in names:
            self.observers.tracker.deadlines.forget(n)
        self.recorder.event(Fault, fault=EVICT, key=key)
        return True
