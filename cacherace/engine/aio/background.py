"""Background work of async code: tasks an operation spawns and leaves running (a
fire-and-forget refresh, ``asyncio.create_task`` in a strategy, cashews' early
refresh) belong to the client's application process, not to the operation.

A task that ends before its operation does is part of that operation: its steps
are the operation's, one at a time (:meth:`ProcessLoop.turn`). A strategy whose
tasks outlive their operation says so (``background = True``); each client
``cN`` then has an actor ``cN.bg``, scheduled like any actor (the explorers start
and step it, settle drains it), whose one operation runs ``cN``'s leftover tasks,
and the tasks they spawn, to their end on ``cN``'s loop, with ``cN``'s
connections. Its steps are its own in the history. A run of it finds nothing to
do (and returns 0) while ``cN``'s loop is busy or nothing was left.

The process is one application process: a crash of ``cN`` or of ``cN.bg`` kills
both (:class:`cacherace.engine.aio.connections.AioConnections`). ``cN``'s next
operation does not interleave with its own background run: it waits for that run
to end, then takes with it whatever is still left (one event loop, one host);
with every other process both interleave freely.

A strategy that leaves tasks running without declaring ``background`` is stopped
with one error (exit 2) naming the fix: run on, they would never be scheduled and
their effects would be missing from every verdict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from cacherace.engine.aio.refuse import is_async
from cacherace.engine.process import Process
from cacherace.engine.runtime import State
from cacherace.errors import ClientCrashed, StepBlocked

SUFFIX = ".bg"


def declares(cls: type) -> bool:
    return is_async(cls) and bool(getattr(cls, "background", False))


def actors_of(cls: type, clients: int) -> tuple[str, ...]:
    """The strategy's actors, then one background actor per client if it declares
    background work."""
    extra = tuple(f"c{i}{SUFFIX}" for i in range(clients)) if declares(cls) else ()
    return (*getattr(cls, "actors", ()), *extra)


def owner_of(p: Process) -> Process | None:
    """The client whose background ``p`` runs, or None (``p`` is no background actor)."""
    if p.actor is None or not p.name.endswith(SUFFIX) or p.actor != p.name:
        return None
    owner = p.engine.processes.get(p.name[: -len(SUFFIX)])
    return owner if owner is not None and owner.actor is None else None


def background_of(p: Process) -> Process | None:
    """The background actor of client ``p``, or None."""
    return None if p.actor is not None else p.engine.processes.get(p.name + SUFFIX)


def left(loop: asyncio.AbstractEventLoop, but: Any = None) -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks(loop) if not t.done() and t is not but]


class Background:
    """The strategy object of a background actor: its method (named as the actor)
    runs the owner's leftover tasks."""

    def __init__(self, p: Process, owner: Process) -> None:
        self.p = p
        self.owner = owner

    def __getattr__(self, name: str) -> Any:
        if name == self.__dict__["p"].name:
            return self.run
        raise AttributeError(name)

    def run(self) -> Coroutine[Any, Any, int] | int:
        loop = self.owner.loop
        if loop is None or loop.is_closed() or loop.is_running() or not left(loop):
            return 0  # nothing to do, or the owner's operation has the loop
        return self._drain()

    async def _drain(self) -> int:
        me = asyncio.current_task()
        done = 0
        while tasks := left(asyncio.get_running_loop(), me):
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            done += len(finished)
            if self.p.state is State.CRASHED:  # the process died: so do its tasks
                for t in left(asyncio.get_running_loop(), me):
                    t.cancel()
                await asyncio.gather(*left(asyncio.get_running_loop(), me),
                                     return_exceptions=True)  # fmt: skip
                raise ClientCrashed()
        return done


def before_operation(p: Process) -> None:
    """In client ``p``'s worker, before an operation runs on its loop: wait while
    its background actor runs (the loop has one host at a time)."""
    bg = background_of(p)
    if bg is not None and bg.worker is not None:
        p.engine.waiting.wait_until(p, lambda: bg.worker is None,
                                    f"its background work ({bg.name}) to end", (bg.name,),
                                    None)  # fmt: skip


def after_operation(p: Process) -> None:
    """In client ``p``'s worker, after an operation: tasks it left running are its
    background actor's, or, with none declared, stop the run."""
    loop = p.loop
    if p.actor is not None or loop is None or background_of(p) is not None:
        return
    tasks = left(loop)
    if not tasks:
        return
    names = ", ".join(sorted({t.get_coro().__qualname__ for t in tasks}))  # type: ignore[union-attr]
    p.blocked = (
        f"{p.name}'s {p.f} returned leaving {len(tasks)} task(s) running ({names}): "
        "cacherace would never schedule them - set `background = True` on the strategy "
        f"to have them run as the actor {p.name}{SUFFIX}, or await them"
    )
    p.state = State.BLOCKED
    raise StepBlocked(p.blocked)
