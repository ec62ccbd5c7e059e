"""Async processes: a strategy whose operations are ``async def`` runs each
operation as a task on its process's own event loop, inside the process's worker.

The loop is an ordinary asyncio selector loop with two changes:

- its clock (``loop.time()``) reads virtual time, so ``asyncio.sleep``, timeouts
  and ``call_later`` count in the schedule's seconds;
- its selector knows whose loop it is. Inside a driver call it waits for the
  server as usual. Outside one, a loop with nothing ready and a timer pending (an
  ``asyncio.sleep``, a ``wait_for`` timeout) is a *sleeping* process: it parks
  until the schedule steps it and virtual time jumps to the timer, as
  ``time.sleep`` does in sync code (:mod:`cacherace.engine.waiting`). A loop with
  nothing ready and no timer waits for something no task of its process can do:
  it waits, and a run where nobody else can help is reported stuck.

Driver calls park inside the loop's run (:mod:`cacherace.engine.drivers.aio`);
while a process is parked, :func:`cacherace.engine.runtime.park` clears asyncio's
running loop so another process's loop can run on the same thread.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any

from greenlet import getcurrent

from cacherace.engine.aio.background import after_operation, before_operation
from cacherace.engine.drivers.clock import MONOTONIC_BASE
from cacherace.engine.process import Process
from cacherace.engine.runtime import State
from cacherace.errors import HarnessError


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
        #: the operation's own coroutine ended: a task left behind that reaches a
        #: driver call before the loop has stopped is held (its step is not the
        #: operation's) until the loop's next run, by its next host
        self.ended = False
        self.held: list[asyncio.Future[None]] = []

    async def operation(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """One operation's coroutine; once it ended, the tasks it spawned take no
        step in this run (they would in the loop's last pass)."""
        self.ended = False
        held, self.held = self.held, []
        for fut in held:
            if not fut.done():
                fut.set_result(None)
        try:
            done = await coro
        finally:
            self.ended = True
        await self.turn()  # a step in flight (awaiting its reply) ends in this run
        return done

    async def hold(self) -> None:
        fut = self.create_future()
        self.held.append(fut)
        await fut

    async def turn(self) -> None:
        """In a task of this process while another task's step is in flight: wait
        for that step to end (steps of one process are one at a time too)."""
        while self.stepping is not None:
            fut = self.create_future()
            self.idle.append(fut)
            await fut

    def step_ended(self) -> None:
        self.stepping = None
        if self.idle:  # mostly nobody waits: no list to make (once per step)
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
        self.held.clear()

    def time(self) -> float:
        return MONOTONIC_BASE + self._virtual.now


def drive(p: Process, coro: Coroutine[Any, Any, Any]) -> Any:
    """In ``p``'s worker: run one operation's coroutine to its end on ``p``'s loop.
    Tasks it spawned and left running are its background actor's
    (:mod:`.background`)."""
    loop = p.loop
    if loop is None:
        coro.close()
        raise HarnessError(f"{p.name}: an async operation on a process built without a loop")
    try:
        before_operation(p)
    except BaseException:
        coro.close()
        raise
    done = loop.run_until_complete(loop.operation(coro))
    after_operation(p)
    return done


def on_loop(p: Process, coro: Coroutine[Any, Any, Any]) -> Any:
    """From the hub: run ``coro`` (connecting, closing) on ``p``'s idle loop."""
    return p.loop.run_until_complete(coro)
