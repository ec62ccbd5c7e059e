"""The nemesis (Jepsen's word): faults, applied to the processes and servers the
engine owns, each recorded as a ``Fault`` event under its one name.

Client crash: the process dies between two steps; its operation is abandoned
(outcome info), its connections close, and a new process takes its place for its
next operation. Driver-call faults: the next call fails before it reaches the
server, or after the server applied it; either way the caller sees a connection
error. Cache and database crash (SIGKILL) and restart; eviction of a key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cacherace.engine.process import Process
from cacherace.model.actions import (
    CACHE_CRASH,
    CACHE_RESTART,
    CLIENT_CRASH,
    DB_CRASH,
    DB_RESTART,
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

    # -- processes ----------------------------------------------------------------------
    def crash_client(self, name: str) -> bool:
        p = self.processes[name]
        if p.worker is None:
            return False
        self.recorder.event(Fault, fault=CLIENT_CRASH, process=name,
                            detail=f"at {p.pending.shown()}" if p.pending else "")  # fmt: skip
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

    # -- servers ------------------------------------------------------------------------
    def crash_cache(self) -> bool:
        s = self.servers
        if not s.cache_up:
            return False
        s.redis_server.crash()
        s.cache_up = False
        self.recorder.event(Fault, fault=CACHE_CRASH, detail=s.redis_server.persistence)
        return True

    def restart_cache(self) -> bool:
        if self.servers.cache_up:
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
        self.wake()  # waiting statements get their connection error
        return True

    def restart_db(self) -> bool:
        if self.servers.db_up:
            return False
        self.servers.restart_db()
        self.recorder.event(Fault, fault=DB_RESTART)
        self.observers.timeline.observe(None)  # what survived the crash
        return True

    def heal(self) -> None:
        """Before a new run: servers left down come back, unrecorded."""
        if not self.servers.cache_up:
            self._restart_cache()
        if not self.servers.db_up:
            self.servers.restart_db()

    def evict(self, key: str) -> bool:
        """The cache drops ``key`` (memory pressure): its cached entries vanish."""
        if not self.servers.cache_up:
            return False
        names = self.observers.waiting.evictable(key)
        if names:
            self.servers.admin_redis.delete(*names)
        for n in names:
            self.observers.tracker.deadlines.forget(n)
        self.recorder.event(Fault, fault=EVICT, key=key)
        return True
