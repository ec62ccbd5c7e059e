"""The runtime: greenlet park and switch, and nothing else (loom's ``scheduler.rs``).

Each operation runs in its own greenlet (a :class:`Worker`) on the caller's
thread. A worker runs the strategy's ordinary code until a driver call parks it
(:func:`park`); the hub resumes exactly one worker at a time (:func:`resume`), so
exactly one step runs at any moment. A switch costs about a microsecond, where a
thread hand-off costs ~28 us each way: that is why workers are greenlets, and why
there are no worker threads to leak.

This module imports no driver: what a step is and how it is recorded live in
:mod:`cacherace.engine.step`.
"""

from __future__ import annotations

import contextlib
from asyncio.events import _get_running_loop, _set_running_loop
from enum import Enum
from typing import TYPE_CHECKING, Any

from greenlet import greenlet

from cacherace.errors import ClientCrashed, StepBlocked

if TYPE_CHECKING:
    from cacherace.engine.process import Process

__all__ = ["ClientCrashed", "State", "StepBlocked", "Worker", "park", "resume", "unwind"]


class State(Enum):
    """Where a process is; one value at a time.

    ``RUNNING`` covers strategy code between driver calls (and a dead process
    unwinding is ``CRASHED`` / ``BLOCKED``); ``STEPPING`` is the harness's own
    bookkeeping around a call, ``CALLING`` the driver call itself, ``WAITING`` a
    call whose statement waits for a lock another process holds. Driver calls
    made while stepping, calling or waiting are part of the step, not steps.
    """

    IDLE = "idle"
    RUNNING = "running"
    PARKED = "parked"
    STEPPING = "stepping"
    CALLING = "calling"
    WAITING = "waiting"
    CRASHED = "crashed"
    BLOCKED = "blocked"


#: States in which a driver call is part of the current step (runs freely).
IN_STEP = frozenset({State.STEPPING, State.CALLING, State.WAITING})
#: States in which a reply is being awaited (psycopg's wait is the harness's).
IN_CALL = frozenset({State.CALLING, State.WAITING})


class Worker(greenlet):
    """The greenlet running one operation; ``process`` marks it as scheduled."""

    process: Process | None = None


def park(p: Process) -> None:
    """Inside ``p``'s worker: hand control back to the hub until resumed.

    An async process parks in the middle of its own event loop's run: the loop
    stays its process's, and asyncio's running-loop thread-local is cleared
    while others run (their loops run on the same thread), restored on resume."""
    loop = _get_running_loop()
    if loop is None:
        p.worker.parent.switch()  # type: ignore[union-attr]
        return
    _set_running_loop(None)
    try:
        p.worker.parent.switch()  # type: ignore[union-attr]
    finally:
        _set_running_loop(loop)


def resume(p: Process) -> bool:
    """From the hub: run ``p``'s worker until it parks again or ends; True when
    its operation ended."""
    w = p.worker
    assert w is not None
    w.switch()
    return bool(w.dead)


def unwind(p: Process) -> None:
    """End ``p``'s in-flight operation by throwing its death into the worker: it
    unwinds without running another driver call (``perform`` refuses them)."""
    w = p.worker
    if w is not None and not w.dead:
        p.state = State.CRASHED
        with contextlib.suppress(ClientCrashed, StepBlocked):
            w.throw(ClientCrashed())


def current_process() -> Any:
    """The scheduled process whose worker runs this code, or None (the hub)."""
    return getattr(greenlet.getcurrent(), "process", None)
