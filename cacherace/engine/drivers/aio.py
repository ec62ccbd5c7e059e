"""Driver interception for async code: every awaited ``redis.asyncio`` and async
psycopg call made by a scheduled process is a step, exactly as its sync form is
(:mod:`.intercept`): the same :class:`~cacherace.engine.drivers.calls.Call`, the
same ``Step`` event, so histories, claims, traces and replay do not tell them
apart.

An awaited call parks first, synchronously: the worker greenlet switches to the
hub in the middle of its loop's run (the loop stays suspended, see
:func:`cacherace.engine.runtime.park`). When the schedule resumes it, the real
call is awaited on the process's loop, and recorded.

psycopg's ``AsyncConnection.wait`` inside a step waits for the reply the way the
sync hook does (:meth:`cacherace.engine.locks.LockWaits.wait_for_reply`): a
statement that waits for a row lock a parked process holds parks as waiting.
"""

from __future__ import annotations

from asyncio import current_task
from asyncio.events import _get_running_loop
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import redis.asyncio
from greenlet import getcurrent
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from cacherace.engine.drivers.calls import (
    Call,
    redis_batch_call,
    redis_call,
    redis_script_call,
    sql_call,
    sql_keyword_call,
)
from cacherace.engine.drivers.clock import real_perf_counter
from cacherace.engine.drivers.intercept import _DEAD, _sql_text
from cacherace.engine.drivers.ownership import _adopt
from cacherace.engine.runtime import IN_CALL, IN_STEP, State
from cacherace.errors import StepBlocked

_installed = False


def _active() -> Any:
    """The scheduled process whose task makes this call as a step of its own, or
    None: on the hub, or a call nested in the step of the same task. Another
    task of the process, while a step is in flight, gets the process: its call
    is a step after that one (:meth:`ProcessLoop.turn`)."""
    p = getattr(getcurrent(), "process", None)
    if p is None or p.state not in IN_STEP:
        return p
    loop = p.loop
    if loop is None or loop.stepping is None or loop.stepping is current_task(loop):
        return None
    return p


async def perform(p: Any, call: Call, run: Callable[[], Awaitable[Any]], conn: Any = None) -> Any:
    """The async form of :meth:`cacherace.engine.step.Stepper.perform`."""
    loop = p.loop
    if loop is None or _get_running_loop() is not loop:
        refuse_foreign_loop(p, call)
    while loop.ended or loop.stepping is not None:
        if loop.ended:  # a task left behind by the operation that just ended
            await loop.hold()
            p = getcurrent().process  # the loop's next host: the background actor
        else:
            await loop.turn()
    stepper = p.engine.perform.__self__  # the engine's Stepper
    inject, answerable = stepper.begin(p, call)
    result: Any = None
    failure: BaseException | None = None
    p.started = real_perf_counter()  # wall time: the harness's, not the process's
    p.state = State.CALLING
    loop.stepping = current_task(loop)
    try:
        if answerable:  # else a blocking call whose timeout passed: the server's nil
            result = await run()
    except BaseException as exc:
        failure = exc
    finally:
        loop.step_ended()
    return stepper.end(p, call, result, failure, conn, inject)


def refuse_foreign_loop(p: Any, call: Call) -> None:
    """An awaited driver call on a loop cacherace does not own (the code ran
    ``asyncio.run`` or a loop of its own): its waits and timers are out of reach,
    so the run stops with one clear error (exit 2), never a verdict."""
    p.blocked = (
        f"{p.name} awaited `{call.command}` on an event loop cacherace does not own (the "
        "code runs asyncio.run or a loop of its own); cacherace drives async code on the "
        "loops it gives each process - make read/write async def and await the calls"
    )
    p.state = State.BLOCKED
    raise StepBlocked(p.blocked)


def install() -> None:
    """Patch the async drivers (idempotent; free for unscheduled callers)."""
    global _installed
    if _installed:
        return
    _installed = True

    # -- redis.asyncio --------------------------------------------------------------
    execute = redis.asyncio.Redis.execute_command

    async def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        p = _active()
        if p is None:
            return await execute(self, *args, **options)
        return await perform(p, redis_call(args), lambda: execute(self, *args, **options))

    immediate = Pipeline.immediate_execute_command

    async def immediate_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        p = _active()
        if p is None:
            return await immediate(self, *args, **options)
        return await perform(p, redis_call(args), lambda: immediate(self, *args, **options))

    pipe_execute = Pipeline.execute

    async def execute_pipeline(self: Any, raise_on_error: bool = True) -> Any:
        p = _active()
        if p is None or (not self.command_stack and not self.watching):
            return await pipe_execute(self, raise_on_error)
        label = "MULTI" if (self.is_transaction or self.explicit_transaction) else "PIPELINE"
        call = redis_batch_call(label, [c[0] for c in self.command_stack])
        return await perform(p, call, lambda: pipe_execute(self, raise_on_error))

    script_call = AsyncScript.__call__

    async def call_script(self: Any, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        p = _active()
        target = client if client is not None else self.registered_client
        if p is None or isinstance(target, Pipeline):
            return await script_call(self, keys, args, client)
        call = redis_script_call(self.sha, list(keys or ()), list(args or ()))
        return await perform(p, call, lambda: script_call(self, keys, args, client))

    pipe_reset = Pipeline.reset

    async def reset(self: Any) -> None:
        p = getattr(getcurrent(), "process", None)
        if p is not None and p.state in _DEAD:
            self.watching = False  # as the sync hook: send nothing on a dead connection
        await pipe_reset(self)

    redis.asyncio.Redis.execute_command = execute_command  # type: ignore[method-assign]
    Pipeline.immediate_execute_command = immediate_execute_command  # type: ignore[method-assign]
    Pipeline.execute = execute_pipeline  # type: ignore[method-assign]
    Pipeline.reset = reset  # type: ignore[method-assign]
    AsyncScript.__call__ = call_script  # type: ignore[method-assign]

    # A library's own async pools and connections belong to the process that made
    # them, as its sync ones do (drivers/ownership.py); AioConnections closes them.
    pool_init = redis.asyncio.ConnectionPool.__init__

    def init_pool(self: Any, *args: Any, **kwargs: Any) -> None:
        pool_init(self, *args, **kwargs)
        _adopt(self)

    redis.asyncio.ConnectionPool.__init__ = init_pool  # type: ignore[method-assign]
    pg_connect = psycopg.AsyncConnection.connect.__func__  # type: ignore[attr-defined]

    async def connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
        conn = await pg_connect(cls, *args, **kwargs)
        _adopt(conn)
        return conn

    psycopg.AsyncConnection.connect = classmethod(connect)  # type: ignore[method-assign, assignment]

    # -- psycopg's AsyncConnection --------------------------------------------------
    def sql_hook(name: str) -> None:
        original = getattr(psycopg.AsyncCursor, name)

        async def hooked(self: Any, query: Any, params: Any = None, *a: Any, **kw: Any) -> Any:
            p = _active()
            if p is None:
                return await original(self, query, params, *a, **kw)
            call = sql_call(_sql_text(query, self.connection), params)
            return await perform(
                p, call, lambda: original(self, query, params, *a, **kw), self.connection
            )

        setattr(psycopg.AsyncCursor, name, hooked)

    sql_hook("execute")
    sql_hook("executemany")

    conn_wait = psycopg.AsyncConnection.wait

    async def wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        p = getattr(getcurrent(), "process", None)
        if p is None or p.state not in IN_CALL:
            return await conn_wait(self, gen, *args, **kwargs)
        return p.engine.locks.wait_for_reply(p, self, gen)

    psycopg.AsyncConnection.wait = wait  # type: ignore[method-assign]

    def keyword_hook(cls: type, name: str, keyword: Callable[..., str], conn: Callable) -> None:
        original = getattr(cls, name)

        async def hooked(self: Any, *a: Any) -> Any:
            p = _active()
            if p is None:
                return await original(self, *a)
            return await perform(
                p, sql_keyword_call(keyword(*a)), lambda: original(self, *a), conn(self)
            )

        setattr(cls, name, hooked)

    keyword_hook(psycopg.AsyncConnection, "commit", lambda: "COMMIT", lambda c: c)
    keyword_hook(psycopg.AsyncConnection, "rollback", lambda: "ROLLBACK", lambda c: c)
    keyword_hook(psycopg.AsyncTransaction, "__aenter__", lambda: "BEGIN", lambda t: t.connection)
    keyword_hook(
        psycopg.AsyncTransaction,
        "__aexit__",
        lambda exc_type, *_: "COMMIT" if exc_type is None else "ROLLBACK",
        lambda t: t.connection,
    )
