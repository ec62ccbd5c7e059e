"""The scheduler: runs clients and actors one step at a time and records the history.

Each operation runs in its own greenlet (a worker) on the caller's thread. A worker
runs the strategy's ordinary code until it reaches a driver call, where the
interception hooks park it; ``step(process)`` lets exactly that call run, and the
worker continues to its next driver call (or the end of the operation). So exactly
one step runs at any moment, the history is totally ordered, and a schedule replays
the same way every time. A switch costs about a microsecond, where handing off
between threads costs ~28 us each way: that is why workers are greenlets, and why
there are no worker threads to leak.

A statement that waits for a row lock held by a parked process does not stall the
run: its process parks as ``waiting`` (the server says it waits, via
``pg_blocking_pids``), others go on, and it completes right after the step that
releases the lock. One inexactness follows from the server running the released
statement on its own: when it autocommits, the timeline read back after the
releasing COMMIT already shows the waiter's value (the holder's was current for an
instant no read could see).

Faults are applied here too, because they act on processes and servers the
scheduler owns: client crash, driver-call failure before/after it takes effect,
cache and database crash/restart, eviction. Time is virtual: ``advance`` moves the
clock and expires keys whose deadline passed.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg
import redis
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.waiting import Ready, Wait

from cacherace.engine.drivers import intercept
from cacherace.engine.drivers.calls import REDIS, Call, text
from cacherace.engine.observers.expiry import ExpiryTracker
from cacherace.engine.process import ClientCrashed, Process, Worker
from cacherace.model.history import (
    Complete,
    EndState,
    Fault,
    History,
    Outcome,
    TimeAdvance,
    new_complete,
    new_db_change,
    new_invoke,
    new_step,
)
from cacherace.model.vtime import Deadlines, VirtualClock
from cacherace.strategies.base import Settings, Strategy

FAIL_BEFORE = "fail-before"
FAIL_AFTER = "fail-after"
#: Backstop for a step waiting on a lock nobody in the run holds (another program):
#: waits on the run's own processes are handled cooperatively and never reach it.
LOCK_TIMEOUT_S = 30
#: How long a statement's reply is awaited before asking the server whether it is
#: waiting for a lock (real time; the answer, not the timing, decides).
LOCK_POLL_S = 0.002
#: Bound on settle's passes over processes that wait for each other's locks.
MAX_SETTLE_PASSES = 100
#: Bounds that keep teardown finite on a strategy that never settles.
MAX_STEPS_PER_OP = 2_000
MAX_DRAIN_ROUNDS = 100


class HarnessError(Exception):
    """The harness cannot go on (a blocked step, a server that will not come back)."""


class StepBlocked(BaseException):
    """A step did not return in time; a BaseException so strategy code cannot
    swallow it. The scheduler turns it into a HarnessError naming the step."""


_BLOCKED = (redis.exceptions.TimeoutError, psycopg.errors.LockNotAvailable)


def initial_values(keys: Sequence[str]) -> dict[str, str]:
    """What each key holds in the database when a run begins."""
    return {k: f"{k}.0" for k in keys}


def _injected(target: str, when: str) -> Exception:
    msg = f"cacherace: injected connection failure ({when} the call reached the server)"
    if target == REDIS:
        return redis.exceptions.ConnectionError(msg)
    return psycopg.OperationalError(msg)


#: Result statuses with rows: with ``nfields``, the test ``Cursor.description`` makes,
#: without building its Column list (2 us a SQL step).
_ROWS = frozenset(s for s in ExecStatus if s.name in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK"))


def _result_text(target: str, result: Any) -> str:
    if target == REDIS:
        return text(result)
    if isinstance(result, psycopg.Cursor):
        res = result.pgresult
        if res is None or not (res.nfields or res.status in _ROWS):
            return text(result.statusmessage or "")
        rows = result.fetchall()
        result.scroll(0, mode="absolute")  # leave the rows for the caller to fetch
        return text(rows)
    return ""


class Scheduler:
    """Runs one strategy's clients and actors against one Redis and one PostgreSQL."""

    def __init__(
        self,
        strategy_cls: type[Strategy],
        redis_server: Any,
        pg_server: Any,
        *,
        clients: int = 2,
        keys: Sequence[str] = ("k1",),
        settings: Settings | None = None,
    ) -> None:
        intercept.install()
        self.strategy_cls = strategy_cls
        self.redis_server = redis_server
        self.pg_server = pg_server
        self.clock = VirtualClock()
        self.settings = replace(settings or Settings(), clock=self.clock)
        self.keys = tuple(keys)
        self.deadlines = Deadlines()
        self.admin_redis = redis_server.client()
        self.admin_db = pg_server.connect(autocommit=True)
        self.tracker = ExpiryTracker(self.deadlines, self.admin_redis)
        strategy_cls.create_schema(self.admin_db, self.settings)
        self.processes: dict[str, Process] = {
            f"c{i}": Process(f"c{i}", self) for i in range(clients)
        }
        for actor in strategy_cls.actors:
            self.processes[actor] = Process(actor, self, actor=actor)
        self.clients = tuple(n for n, p in self.processes.items() if p.actor is None)
        self.actors = tuple(strategy_cls.actors)
        self.cache_up = True
        self.db_up = True
        # Bumped by each server restart: connections from an older epoch are dead,
        # and a process reconnects before its next operation (as a pool with a
        # health check would), so no example inherits a dead connection.
        self.cache_epoch = 0
        self.db_epoch = 0
        self._waking = False
        self._waiters = 0  # processes whose statement waits for a lock
        self.history = History()
        self.db_view: dict[str, str | None] = {}
        self._ops = 0

    # -- lifecycle ---------------------------------------------------------------------
    def reset(self, initial: Mapping[str, str] | None = None) -> History:
        """Begin a new run: abandon in-flight work, heal servers, empty the cache,
        set the database to ``initial``. No server is started: this is the per-example
        cost (a FLUSHALL and a DELETE+INSERT)."""
        for p in self.processes.values():
            self._abandon(p)
        if not self.cache_up:
            self._restart_cache_server()
        if not self.db_up:
            self._restart_db_server()
        initial = dict(initial if initial is not None else initial_values(self.keys))
        self.redis_server.reset(self.settings.prefix)
        self.strategy_cls.reset(self.admin_db, self.settings, initial)
        self.clock.now = 0.0
        self.deadlines.clear()
        self.history = History(initial=dict(initial), ttl=self.settings.ttl)
        self.db_view = dict(initial)
        self._ops = 0
        for p in self.processes.values():
            if self._stale(p) or p.db.info.transaction_status != TransactionStatus.IDLE:
                self._connect(p)
            else:  # a fresh strategy object per run; connections are reused
                p.strategy = self.strategy_cls(p.redis, p.db, self.settings)
                p.dirty = False
        return self.history

    def close(self) -> None:
        for p in self.processes.values():
            self._abandon(p)
            self._disconnect(p)
        for closer in (self.admin_redis.close, self.admin_db.close):
            with contextlib.suppress(Exception):
                closer()

    def _stale(self, p: Process) -> bool:
        return (
            p.strategy is None
            or p.db is None
            or p.db.closed
            or p.db.broken
            or p.epochs != (self.cache_epoch, self.db_epoch)
        )

    def _connect(self, p: Process) -> None:
        """Give ``p`` working connections and a fresh strategy object (a restarted
        application process after a crash, or one whose server restarted)."""
        cache_epoch, db_epoch = p.epochs
        if p.db is not None and (db_epoch != self.db_epoch or p.db.broken):
            p.db.close()
        if p.db is None or p.db.closed:
            p.db = self.pg_server.connect(autocommit=True)
            p.db.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
        elif p.db.info.transaction_status != TransactionStatus.IDLE:
            p.db.rollback()
        if p.redis is not None and cache_epoch != self.cache_epoch:
            p.redis.close()
            p.redis = None
        if p.redis is None:
            p.redis = self.redis_server.client()
        p.epochs = (self.cache_epoch, self.db_epoch)
        p.strategy = self.strategy_cls(p.redis, p.db, self.settings)
        p.dirty = False

    def _disconnect(self, p: Process) -> None:
        pid = None
        if p.db is not None and not p.db.closed and not p.db.broken:
            pid = p.db.info.backend_pid
        for conn in (p.redis, p.db):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
        p.redis = p.db = p.strategy = None
        if pid is not None:
            self._await_backend_exit(pid)

    def _await_backend_exit(self, pid: int) -> None:
        """The server ends a closed connection's backend (rolling back its transaction,
        releasing its locks) on its own time; wait for it, so what the next step
        finds never depends on how fast that happened."""
        if not self.db_up:
            return
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        with contextlib.suppress(psycopg.Error):
            while time.monotonic() < deadline:
                row = self.admin_db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                if not row or row[0] == 0:
                    return
                time.sleep(LOCK_POLL_S / 4)

    def _abandon(self, p: Process) -> None:
        """Stop ``p``'s in-flight operation without letting it run another call.

        Its connections are closed too: it may be inside a transaction (holding row
        locks the next reset would wait for), and a ``with conn.transaction()`` block
        whose exit did not run leaves psycopg's own transaction state behind."""
        w = p.worker
        if w is not None and not w.dead:
            p.crashed = True
            with contextlib.suppress(ClientCrashed, StepBlocked):
                w.throw(ClientCrashed())
            self._disconnect(p)
        p.worker = None
        p.pending = None
        p.inject = None
        p.crashed = False
        p.blocked = None

    # -- events ------------------------------------------------------------------------
    def _event(self, cls: type, **fields: Any) -> Any:
        events = self.history.events
        e = cls(index=len(events), time=self.clock.now, **fields)
        events.append(e)
        return e

    def _record(self, new: Callable[..., Any], *values: Any) -> Any:
        """``_event`` for the per-step events, built positionally by a ``history.new_*``
        maker: passing every field by keyword, twice, cost more than the rest of the
        event."""
        events = self.history.events
        e = new(len(events), self.clock.now, *values)
        events.append(e)
        return e

    # -- operations and steps ----------------------------------------------------------
    def busy(self, name: str) -> bool:
        return self.processes[name].worker is not None

    def start(self, name: str, f: str, key: str | None = None, value: str | None = None) -> bool:
        """Start an operation on an idle process and run it up to its first driver
        call. Returns False (and does nothing) when the process is busy."""
        p = self.processes[name]
        if p.worker is not None:
            return False
        p.op = self._ops
        self._ops += 1
        p.f, p.key, p.value = f, key, value
        p.reached = p.crashed = False
        self._record(new_invoke, name, p.op, f, key, value)
        if self._stale(p):
            try:
                self._connect(p)
            except psycopg.OperationalError as exc:
                # A restarted process that cannot reach the database: the operation
                # fails before doing anything, as it would in the application.
                self._complete(p, Outcome.FAIL, None, f"cannot connect: {exc}")
                return True
        w = Worker(self._run_operation)
        w.process = p
        p.worker = w
        self._switch(p)
        return True

    def step(self, name: str) -> bool:
        """Let ``name`` take exactly one step. False when it has nothing in flight."""
        p = self.processes[name]
        if p.worker is None:
            return False
        if p.waiting:  # its statement waits for a lock: asking again is all it can do
            self._switch(p)
            return not p.waiting
        self._switch(p)
        return True

    def run_to_end(self, name: str) -> None:
        """Step ``name`` until its operation ends."""
        p = self.processes[name]
        for _ in range(MAX_STEPS_PER_OP):
            if p.worker is None:
                return
            self._switch(p)
            if p.waiting:  # it cannot go on until the lock's holder does
                return
        raise HarnessError(f"{name}'s {p.f} did not end within {MAX_STEPS_PER_OP} steps")

    def _switch(self, p: Process) -> None:
        w = p.worker
        assert w is not None
        try:
            w.switch()
        except StepBlocked as exc:
            p.worker = None
            p.pending = None
            p.blocked = None
            self._disconnect(p)  # its transaction state is unknown; the next op reconnects
            raise HarnessError(str(exc)) from None
        if w.dead:
            p.worker = None
            p.pending = None
        if self._waiters and not self._waking:  # a count: this runs after every step
            self._wake()

    def _wake(self) -> None:
        """Let statements that wait for a lock go on once its holder released it: a
        released lock is granted before the releasing COMMIT (or disconnect) returns,
        so the waiter's step completes right after the step that released it."""
        self._waking = True
        try:
            progress = True
            while progress:
                progress = False
                for q in self.processes.values():
                    if q.waiting and q.worker is not None:
                        self._switch(q)  # re-asks the server; parks again if still waiting
                        progress = progress or not q.waiting
        finally:
            self._waking = False

    def wait_for_reply(self, p: Process, conn: Any, gen: Any) -> Any:
        """Drive psycopg's protocol generator for ``p``'s call (as psycopg's own wait
        does), but when no reply comes and the server says the statement waits for
        a lock, park ``p`` as waiting instead of blocking every process."""
        fileno = conn.pgconn.socket
        try:
            state = next(gen)
            while True:
                readable, writable, broken = select.select(
                    (fileno,) if state & Wait.R else (), (fileno,) if state & Wait.W else (),
                    (fileno,), LOCK_POLL_S,
                )  # fmt: skip
                if broken:
                    raise psycopg.OperationalError("connection socket closed")
                if not readable and not writable:
                    while self._waits_for_lock(conn):
                        p.waiting = True
                        self._waiters += 1
                        try:
                            p.worker.parent.switch()  # type: ignore[union-attr]
                        finally:
                            p.waiting = False
                            self._waiters -= 1
                    continue
                state = gen.send((Ready.R if readable else 0) | (Ready.W if writable else 0))
        except StopIteration as done:
            return done.value

    def _let_released_statements_finish(self) -> None:
        """Before reading the timeline after a commit: a statement this commit
        released from a lock wait runs at the server on its own; wait until it is
        done, so the read-back sees it every time rather than depending on timing."""
        if not self._waiters:  # runs after every commit: nearly always nothing to do
            return
        pids = [q.db.info.backend_pid for q in self.processes.values()
                if q.waiting and q.db is not None and not q.db.closed]  # fmt: skip
        if not pids:
            return
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while time.monotonic() < deadline:
            row = self.admin_db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"
                " AND state = 'active' AND cardinality(pg_blocking_pids(pid)) = 0",
                (pids,),
            ).fetchone()
            if not row or row[0] == 0:
                return
            time.sleep(LOCK_POLL_S / 4)  # a released statement takes well under a ms

    def _waits_for_lock(self, conn: Any) -> bool:
        try:
            row = self.admin_db.execute(
                "SELECT cardinality(pg_blocking_pids(%s)) > 0",
                (conn.info.backend_pid,),
                prepare=True,
            ).fetchone()
        except psycopg.Error:
            return False  # the server went away: the reply (an error) is on its way
        return bool(row and row[0])

    def _run_operation(self) -> None:
        """The body of a worker: the strategy's operation, then its outcome."""
        p: Process = Worker.getcurrent().process  # type: ignore[attr-defined]
        try:
            if p.actor is not None:
                done = getattr(p.strategy, p.actor)()
                value = None if done is None else str(done)
            elif p.f == "read":
                value = p.strategy.read(p.key)
            else:
                p.strategy.write(p.key, p.value)
                value = None
        except ClientCrashed:
            self._complete(p, Outcome.INFO, None, "client crashed")
            return
        except Exception as exc:
            # fail only when no effect can have happened: reads have none; a write
            # has none only if no step of it reached a server.
            surely_none = p.actor is None and (p.f == "read" or not p.reached)
            outcome = Outcome.FAIL if surely_none else Outcome.INFO
            self._complete(p, outcome, None, f"{type(exc).__name__}: {exc}")
            return
        self._complete(p, Outcome.OK, value, None)

    def _complete(self, p: Process, outcome: Outcome, value: str | None, error: str | None) -> None:
        self._record(new_complete, p.name, p.op, p.f, p.key, outcome, value, error)

    def perform(self, p: Process, call: Call, run: Callable[[], Any], conn: Any = None) -> Any:
        """Called by the interception hooks, inside ``p``'s worker: park until
        scheduled, then make the driver call and record it as one step."""
        # A process unwinding from its death (a ``finally``, a transaction block's
        # exit) must not park again or run anything: its operation is over.
        if p.blocked is not None:
            raise StepBlocked(p.blocked)
        if p.crashed:
            raise ClientCrashed()
        p.pending = call
        parent = p.worker.parent  # type: ignore[union-attr]
        parent.switch()  # park; the hub resumes us when this step is scheduled
        if p.crashed:
            raise ClientCrashed()
        p.pending = None
        inject, p.inject = p.inject, None
        if inject == FAIL_BEFORE:
            error = _injected(call.target, "before")
            self._record(new_step, p.name, p.op, call.target, call.command, call.keys, "",
                         str(error), inject)  # fmt: skip
            raise error
        p.in_step = True
        p.reached = True
        result: Any = None
        failure: BaseException | None = None
        p.started = time.perf_counter()
        p.calling = True
        try:
            result = run()
        except BaseException as exc:
            failure = exc
        finally:
            p.calling = False
        try:
            step = self._record(
                new_step, p.name, p.op, call.target, call.command, call.keys,
                "" if failure else _result_text(call.target, result),
                None if failure is None else f"{type(failure).__name__}: {failure}", inject,
            )  # fmt: skip
            self._after_step(p, call, result, failure, conn, step.index)
        finally:
            p.in_step = False
        if failure is not None:
            if isinstance(failure, _BLOCKED):
                p.blocked = self._blocked_message(p, call, failure)
                raise StepBlocked(p.blocked)
            raise failure
        if inject == FAIL_AFTER:
            raise _injected(call.target, "after")
        return result

    def _after_step(
        self, p: Process, call: Call, result: Any, failure: BaseException | None, conn: Any,
        index: int,
    ) -> None:  # fmt: skip
        """Bookkeeping that must happen before any other step: TTL deadlines after a
        Redis step, the database timeline after a step that committed."""
        if call.target == REDIS:
            if self.cache_up:
                self.tracker.after(call, result, self.clock.now, failure is not None, p.started)
            return
        if call.writes:
            p.dirty = True
        if p.dirty and conn is not None:
            status = conn.pgconn.transaction_status  # conn.info builds an object per access
            if status == TransactionStatus.IDLE:
                p.dirty = False
                self._let_released_statements_finish()
                self._observe_db(index)
            elif status == TransactionStatus.UNKNOWN:  # connection lost: nothing committed
                p.dirty = False

    def _observe_db(self, step: int | None) -> None:
        if not self.db_up:
            return
        now = self.strategy_cls.peek_database(self.admin_db, self.settings, self.keys)
        view = self.db_view
        for k in self.keys:
            if now.get(k) != view.get(k):
                view[k] = now.get(k)
                self._record(new_db_change, k, now.get(k), step)

    def _blocked_message(self, p: Process, call: Call, exc: BaseException) -> str:
        holders = [
            q.name
            for q in self.processes.values()
            if q is not p and q.db is not None and not q.db.closed
            and q.db.info.transaction_status == TransactionStatus.INTRANS
        ]  # fmt: skip
        keys = f" on {', '.join(call.keys)}" if call.keys else ""
        op = f" in its {p.f} of {p.key}" if p.key else f" in its {p.f}"
        who = f"; parked inside a transaction: {', '.join(holders)}" if holders else ""
        # Locks held by the run's own processes are waited for cooperatively, so a
        # lock timeout means a lock held from outside the run.
        why = (
            "a lock held outside this run (another program on this database?)"
            if isinstance(exc, psycopg.errors.LockNotAvailable)
            else "a server that accepts the call but never answers it"
        )
        return (
            f"step blocked: {p.name}'s {call.target} call `{call.command}`{keys}{op} did not "
            f"return ({type(exc).__name__}){who}; it waits on {why}."
        )

    # -- time ----------------------------------------------------------------------------
    def advance(self, seconds: float) -> tuple[str, ...]:
        """Move virtual time; keys whose deadline passed are deleted and recorded."""
        self.clock.advance(seconds)
        due = self.deadlines.due(self.clock.now)
        if due and self.cache_up:
            self.admin_redis.delete(*due)
        self._event(TimeAdvance, delta=seconds, expired=tuple(due))
        return tuple(due)

    # -- faults --------------------------------------------------------------------------
    def crash_client(self, name: str) -> bool:
        """The client's process dies between two steps: its operation is abandoned
        (outcome info), its connections close, nothing of it runs again. A new
        process takes its place for its next operation."""
        p = self.processes[name]
        if p.worker is None:
            return False
        self._event(Fault, fault="client-crash", process=name,
                    detail=f"at {p.pending.command}" if p.pending else "")  # fmt: skip
        self._disconnect(p)  # the server sees the connections drop (open transaction rolls back)
        self._abandon(p)
        self._wake()  # its locks are gone
        return True

    def fail_next_call(self, name: str, when: str) -> bool:
        """Make ``name``'s next driver call fail before it reaches the server, or after
        the server applied it; either way the caller sees a connection error."""
        if when not in (FAIL_BEFORE, FAIL_AFTER):
            raise ValueError(f"unknown driver-call fault {when!r}")
        p = self.processes[name]
        if p.worker is None or p.inject is not None:
            return False
        p.inject = when
        self._event(Fault, fault=when, process=name,
                    detail=p.pending.command if p.pending else "")  # fmt: skip
        return True

    def crash_cache(self) -> bool:
        if not self.cache_up:
            return False
        self.redis_server.crash()
        self.cache_up = False
        self._event(Fault, fault="cache-crash", detail=self.redis_server.persistence)
        return True

    def restart_cache(self) -> bool:
        if self.cache_up:
            return False
        kept = self._restart_cache_server()
        self._event(Fault, fault="cache-restart", detail=f"kept {kept} keys")
        return True

    def _restart_cache_server(self) -> int:
        before = (self.redis_server.host, self.redis_server.port)
        self.redis_server.restart()
        self.cache_up = True
        self.cache_epoch += 1
        if (self.redis_server.host, self.redis_server.port) != before:
            # A container may come back on another port: a new admin client too.
            self.admin_redis.close()
            self.admin_redis = self.redis_server.client()
            self.tracker.admin = self.admin_redis
        self.tracker.refresh_all(self.clock.now)
        return int(self.admin_redis.dbsize())

    def crash_db(self) -> bool:
        if not self.db_up:
            return False
        self.pg_server.crash()
        self.db_up = False
        self._event(Fault, fault="db-crash")
        self._wake()  # waiting statements get their connection error
        return True

    def restart_db(self) -> bool:
        if self.db_up:
            return False
        self._restart_db_server()
        self._event(Fault, fault="db-restart")
        self._observe_db(None)  # what survived the crash
        return True

    def _restart_db_server(self) -> None:
        self.pg_server.restart()
        self.db_up = True
        self.db_epoch += 1
        with contextlib.suppress(Exception):
            self.admin_db.close()
        self.admin_db = self.pg_server.connect(autocommit=True)

    def evict(self, key: str) -> bool:
        """The cache drops ``key`` (memory pressure): its cached entries vanish."""
        if not self.cache_up:
            return False
        names = self.strategy_cls.cache_keys(self.settings, key)
        self.admin_redis.delete(*names)
        for n in names:
            self.deadlines.forget(n)
        self._event(Fault, fault="evict", key=key)
        return True

    # -- the end -------------------------------------------------------------------------
    def settle(self) -> EndState:
        """Heal faults, run every in-flight operation to its end (clients in order, then
        actors), drain the actors, and record what cache and database hold."""
        settled, reason = True, ""
        try:
            self.restart_cache()
            self.restart_db()
            for _ in range(MAX_SETTLE_PASSES):
                for name in self.processes:
                    self.run_to_end(name)
                if not any(p.worker is not None for p in self.processes.values()):
                    break
            else:
                waiting = [p.name for p in self.processes.values() if p.waiting]
                raise HarnessError(f"{', '.join(waiting)} still wait for locks nobody releases")
            if self.actors:
                self._drain()
                # Delayed work (a double-delete's second delete) is due after the
                # strategy's delay: let that much virtual time pass, then drain again.
                self.advance(self.settings.delay)
                self._drain()
        except HarnessError as exc:
            settled, reason = False, str(exc)
        cache: dict[str, str | None] = {}
        db: dict[str, str | None] = {}
        expires: dict[str, float | None] = {}
        if self.cache_up and self.db_up:
            for k in self.keys:
                cache[k] = self.strategy_cls.peek_cache(self.admin_redis, self.settings, k)
                if cache[k] is not None:
                    value_key = self.strategy_cls.cache_keys(self.settings, k)[0]
                    expires[k] = self.deadlines.get(value_key)
            db = self.strategy_cls.peek_database(self.admin_db, self.settings, self.keys)
        else:
            settled, reason = False, reason or "a server did not come back"
        return self._event(EndState, cache=cache, db=dict(db), settled=settled, reason=reason,
                           expires=expires)  # fmt: skip

    def _drain(self) -> None:
        for actor in self.actors:
            for _ in range(MAX_DRAIN_ROUNDS):
                self.start(actor, actor)
                self.run_to_end(actor)
                done = self.history.events[-1]
                if not isinstance(done, Complete) or done.value in (None, "0", "False"):
                    break
            else:
                raise HarnessError(f"actor {actor} still had work after {MAX_DRAIN_ROUNDS} rounds")
