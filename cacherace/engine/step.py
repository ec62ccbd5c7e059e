"""One step: the driver call a process is parked at, run when the schedule says,
recorded as a ``Step`` event, then shown to the observers.

:meth:`Stepper.perform` is what the driver hooks call, inside the process's
worker: it parks until scheduled, applies a driver-call fault if one is due,
makes the call and records it. This is the hot path of every run: it is kept
free of indirection (``cacherace bench --only step`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import redis

from cacherace.engine import hangs
from cacherace.engine.drivers.calls import LOCAL, REDIS, Call, step_result
from cacherace.engine.drivers.clock import real_perf_counter
from cacherace.engine.process import Process
from cacherace.engine.runtime import State, park
from cacherace.errors import ClientCrashed, StepBlocked
from cacherace.model.actions import FAIL_AFTER, FAIL_BEFORE
from cacherace.model.history import new_step

#: Errors that mean a step did not return: a lock held from outside the run, or
#: a server that accepts the call but never answers it.
_BLOCKED = (redis.exceptions.TimeoutError, psycopg.errors.LockNotAvailable)


def injected(target: str, when: str) -> Exception:
    """The connection error a driver-call fault raises in the caller."""
    msg = f"cacherace: injected connection failure ({when} the call reached the server)"
    if target == REDIS:
        return redis.exceptions.ConnectionError(msg)
    return psycopg.OperationalError(msg)


def _timed_out() -> None:
    return None


class Stepper:
    __slots__ = ("invalidations", "locks", "observers", "paused", "recorder")

    def __init__(self, recorder: Any, observers: Any, locks: Any) -> None:
        self.recorder = recorder
        self.observers = observers
        self.invalidations = observers.invalidations
        self.locks = locks
        self.paused: set[str] = locks.servers.paused  # servers that hang (engine.hangs)

    def perform(self, p: Process, call: Call, run: Callable[[], Any], conn: Any = None) -> Any:
        """Park until scheduled, then make the driver call and record it."""
        inject, answerable = self.begin(p, call)
        if not answerable:
            run = _timed_out  # its timeout passed in virtual time: the server's nil
        result: Any = None
        failure: BaseException | None = None
        p.started = real_perf_counter()  # wall time: the harness's, not the process's
        p.state = State.CALLING
        try:
            result = run()
        except BaseException as exc:
            failure = exc
        return self.end(p, call, result, failure, conn, inject)

    def begin(self, p: Process, call: Call) -> tuple[str | None, bool]:
        """Park until scheduled; the driver-call fault due (a fault due before the
        call is raised here), and False when a blocking call's timeout passed while
        it waited (it answers nil without asking). Shared with the asyncio hooks."""
        # A process unwinding from its death (a ``finally``, a transaction block's
        # exit) must not park again or run anything: its operation is over.
        if p.state is State.BLOCKED:
            raise StepBlocked(p.blocked)
        if p.state is State.CRASHED:
            raise ClientCrashed()
        p.pending = call
        p.state = State.PARKED
        park(p)  # the hub resumes us when this step is scheduled
        if p.state is State.CRASHED:
            raise ClientCrashed()
        if self.paused and call.target in self.paused:
            hangs.before(p, call)  # it waits as the server is paused: see engine.hangs
        answerable = not call.blocking or p.engine.waiting.until_answerable(p, call)
        p.pending = None
        inject, p.inject = p.inject, None
        if inject == FAIL_BEFORE:
            p.state = State.RUNNING
            error = injected(call.target, "before")
            self.recorder.record(new_step, p.name, p.op, call.target, call.command, call.keys,
                                 "", str(error), inject, call.args, None)  # fmt: skip
            raise error
        p.reached = True
        return inject, answerable

    def end(self, p: Process, call: Call, result: Any, failure: BaseException | None,
            conn: Any, inject: str | None) -> Any:  # fmt: skip
        """Record the call that ran and show it to the observers; its result."""
        if p.state is State.CALLING:
            p.state = State.STEPPING
        target = call.target
        if self.invalidations.local:  # a client-side cache answered: no server was asked
            self.invalidations.local = False
            target = LOCAL
            p.engine.nemesis.hangs.calls.pop(p.name, None)  # nothing was sent to wait for
        try:
            shown, rows = ("", None) if failure else step_result(call.target, result)
            step = self.recorder.record(
                new_step, p.name, p.op, target, call.command, call.keys, shown,
                None if failure is None else f"{type(failure).__name__}: {failure}", inject,
                call.args, rows,
            )  # fmt: skip
            self.observers.after_step(p, call, result, failure, conn, step.index)
        finally:
            if p.state is State.STEPPING:
                p.state = State.RUNNING
        if failure is not None:
            if isinstance(failure, _BLOCKED) and call.target not in self.paused:
                p.blocked = self.locks.blocked_message(p, call, failure)
                p.state = State.BLOCKED
                raise StepBlocked(p.blocked)
            raise failure
        if inject == FAIL_AFTER:
            raise injected(call.target, "after")
        return result
