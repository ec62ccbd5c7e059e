"""The engine: runs one strategy's clients and actors against one Redis and one PostgreSQL, one
step at a time, and records the history. A facade, as Trio's ``Runner``: each job is a collaborator
in its own module (runtime, step, connections, locks, nemesis, recorder, observers, waiting...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import psycopg

from cacherace.engine.aio import actors_of, connections_for
from cacherace.engine.connections import Servers, bounded
from cacherace.engine.drivers import aio, caching, clock, intercept, ownership, threads
from cacherace.engine.locks import LockWaits
from cacherace.engine.nemesis import Nemesis
from cacherace.engine.observers import DbTimeline, ExpiryTracker, Observers
from cacherace.engine.operation import complete, run_operation
from cacherace.engine.process import Process
from cacherace.engine.recorder import Recorder, initial_values
from cacherace.engine.runtime import State, Worker, resume
from cacherace.engine.settle import run_to_end, settle
from cacherace.engine.step import Stepper
from cacherace.engine.waiting import Waiting
from cacherace.errors import HarnessError, StepBlocked
from cacherace.model.actions import FAIL_AFTER, FAIL_BEFORE  # noqa: F401  (re-exported)
from cacherace.model.history import EndState, History, Outcome, TimeAdvance, new_invoke
from cacherace.model.vtime import Deadlines, VirtualClock
from cacherace.strategies.base import Settings, Strategy


class Engine:
    """One strategy's processes on one pair of servers. Class-level annotations:
    only the nemesis's faults, bound in ``__init__``."""

    crash_client: Callable[[str], bool]
    fail_next_call: Callable[[str, str], bool]
    evict: Callable[[str], bool]
    crash_cache: Callable[[], bool]
    restart_cache: Callable[[], bool]
    crash_db: Callable[[], bool]
    restart_db: Callable[[], bool]

    def __init__(self, strategy_cls: type[Strategy], redis_server: Any, pg_server: Any, *,
                 clients: int = 2, keys: Sequence[str] = ("k1",),
                 settings: Settings | None = None) -> None:  # fmt: skip
        for driver in (intercept, clock, threads, ownership, aio, caching):  # idempotent
            driver.install()
        self.strategy_cls = strategy_cls
        self.clock = VirtualClock()
        self.settings = replace(settings or Settings(), clock=self.clock)
        self.keys = tuple(keys)
        self.deadlines = Deadlines()
        self.servers = Servers(redis_server, pg_server)
        with bounded(self.servers, (), "the schema's creation"):
            strategy_cls.create_schema(self.servers.admin_db, self.settings)
        self.processes: dict[str, Process] = {f"c{i}": Process(f"c{i}", self)
                                              for i in range(clients)}  # fmt: skip
        for actor in actors_of(strategy_cls, clients):  # with async background actors
            self.processes[actor] = Process(actor, self, actor=actor)
        self.clients = tuple(n for n, p in self.processes.items() if p.actor is None)
        self.actors = tuple(n for n, p in self.processes.items() if p.actor is not None)
        self.recorder = Recorder(self.clock)
        self.connections = connections_for(self.servers, strategy_cls, self.settings, self.clock)
        self.locks = LockWaits(self.servers, self.processes)
        self.tracker = ExpiryTracker(self.deadlines, self.servers.admin_redis)
        self.timeline = DbTimeline(self.servers, self.recorder, strategy_cls, self.settings,
                                   self.keys)  # fmt: skip
        self.waiting = Waiting(self)
        self.uuids = 0  # identifiers handed to code under test (drivers/clock.py)
        self.observers = Observers(self.servers, self.clock, self.locks, self.tracker,
                                   self.timeline, self.waiting, self.recorder)  # fmt: skip
        wake = partial(self.locks.wake, self._switch)  # waiters learn a lock is gone
        self.nemesis = Nemesis(self.servers, self.processes, self.recorder, self.connections,
                               self.observers, wake, strategy_cls, self.settings)  # fmt: skip
        self.perform = Stepper(self.recorder, self.observers, self.locks).perform  # the hot path
        self._body = partial(run_operation, self.recorder)
        for fault in Engine.__annotations__:  # the faults, declared above
            setattr(self, fault, getattr(self.nemesis, fault))

    # -- what tests and explorers look at ---------------------------------------------
    history = property(lambda self: self.recorder.history)
    invalidations = property(lambda self: self.observers.invalidations)  # client-side caches
    redis_server = property(lambda self: self.servers.redis_server)
    pg_server = property(lambda self: self.servers.pg_server)
    admin_redis = property(lambda self: self.servers.admin_redis)
    admin_db = property(lambda self: self.servers.admin_db)
    cache_up = property(lambda self: self.servers.cache_up)
    db_up = property(lambda self: self.servers.db_up)

    # -- lifecycle ---------------------------------------------------------------------
    def reset(self, initial: Mapping[str, str] | None = None) -> History:
        """Begin a run: end the last (its work, its transactions), heal, set cache and database."""
        self.connections.end_run(self.processes.values())
        self.nemesis.heal()
        initial = dict(initial if initial is not None else initial_values(self.keys))
        self.servers.redis_server.reset(self.settings.prefix)
        with bounded(self.servers, self.processes.values(), "the database's reset"):
            self.strategy_cls.reset(self.servers.admin_db, self.settings, initial)
        self.clock.now = 0.0
        self.deadlines.clear()
        self.waiting.begin()
        self.uuids = 0
        history = self.recorder.begin(initial, self.settings.ttl)
        self.timeline.begin(initial)
        for p in self.processes.values():
            self.connections.renew(p)
        return history

    def close(self) -> None:
        for p in self.processes.values():
            self.connections.abandon(p)
            self.connections.disconnect(p)
        self.nemesis.unpause()  # the servers outlive this engine
        self.servers.close()

    # -- operations and steps ----------------------------------------------------------
    def busy(self, name: str) -> bool:
        return self.processes[name].worker is not None

    def start(self, name: str, f: str, key: str | None = None, value: str | None = None) -> bool:
        """Start an operation on an idle process and run it up to its first driver
        call. Returns False (and does nothing) when the process is busy."""
        p = self.processes[name]
        if p.worker is not None:
            return False
        p.op = self.recorder.next_op()
        p.f, p.key, p.value = f, key, value
        p.reached = False
        self.recorder.record(new_invoke, name, p.op, f, key, value)
        if self.connections.stale(p):
            try:
                self.connections.connect(p)
            except psycopg.OperationalError as exc:
                # A restarted process that cannot reach the database: the operation
                # fails before doing anything, as it would in the application.
                complete(self.recorder, p, Outcome.FAIL, None, f"cannot connect: {exc}")
                return True
        w = Worker(self._body)
        w.gr_context = p.context
        w.process, p.worker = p, w
        p.state = State.RUNNING
        self._switch(p)
        return True

    def step(self, name: str) -> bool:
        """Let ``name`` take exactly one step. False when it has nothing in flight."""
        p = self.processes[name]
        if p.worker is None:
            return False
        if p.state is State.WAITING:  # asking the server again is all it can do
            self._switch(p)
            return p.state is not State.WAITING
        if not self.waiting.can_step(p):  # a threading wait whose holder goes on
            return False
        self._switch(p)
        return True

    def run_to_end(self, name: str, *, settling: bool = False) -> None:
        """Step ``name`` until its operation ends (see :mod:`.settle`)."""
        run_to_end(self, self.processes[name], settling=settling)

    def _switch(self, p: Process) -> None:
        if p.pace.sleep_until is not None:
            self.waiting.wake_sleeper(p)
        try:
            ended = resume(p)
        except StepBlocked as exc:
            p.worker = p.pending = p.blocked = None
            p.state = State.IDLE
            self.connections.disconnect(p)  # its transaction state is unknown: reconnect
            raise HarnessError(str(exc)) from None
        if ended:
            p.worker = p.pending = None
            p.state = State.IDLE
            self.waiting.ended(p)
            self.connections.ended(p)  # a transaction block that did not exit: lost
        if self.locks.waiters and not self.locks.waking:  # a count: after every step
            self.locks.wake(self._switch)

    # -- time and the end ----------------------------------------------------------------
    def advance(self, seconds: float) -> tuple[str, ...]:
        """Move virtual time; keys whose deadline passed are deleted and recorded."""
        with self.invalidations.landing():  # pushes in flight land; the expiries' are held
            self.clock.advance(seconds)
            due = self.deadlines.due(self.clock.now)
            self.nemesis.expire(due)  # deleted now, or when a paused cache resumes
        self.recorder.event(TimeAdvance, delta=seconds, expired=tuple(due))
        return tuple(due)

    def settle(self) -> EndState:
        """Heal faults, run everything in flight to its end, drain the actors, and
        record what cache and database hold."""
        return settle(self)


#: The engine's name before the redesign, kept for code that imports it.
Scheduler = Engine
