"""Driver interception: every redis-py and psycopg call made by a scheduled client
or actor becomes a step the engine controls.

The hooks are installed once, on the driver classes, so code that knows nothing of
cacherace (the article's ``get_user``, a user's module, a third-party caching
library) is scheduled unmodified. A call is intercepted only when it is made from a
scheduled worker (a greenlet carrying a ``process``) and not already inside a step;
the suite's own setup and checks, which run on the hub, pass straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import redis
from greenlet import getcurrent
from psycopg import sql
from redis.client import Pipeline
from redis.commands.core import Script

from cacherace.engine.drivers.calls import (
    redis_batch_call,
    redis_call,
    redis_script_call,
    sql_call,
    sql_keyword_call,
)
from cacherace.engine.runtime import IN_CALL, IN_STEP, State

_installed = False
_DEAD = frozenset({State.CRASHED, State.BLOCKED})


def _active() -> Any:
    """The scheduled process running this code, or None when the call runs freely
    (on the hub, or inside a step: nested driver calls are part of it)."""
    p = getattr(getcurrent(), "process", None)
    if p is None or p.state in IN_STEP:
        return None
    return p


def _sql_text(query: Any, conn: Any) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode("utf-8", "replace")
    if isinstance(query, sql.Composable):
        return query.as_string(conn)
    return str(query)


def install() -> None:
    """Patch the drivers (idempotent). Patching is process-wide but free for
    unscheduled callers: one attribute lookup on the current greenlet."""
    global _installed
    if _installed:
        return
    _installed = True

    # -- redis-py -----------------------------------------------------------------
    redis_execute = redis.Redis.execute_command

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        p = _active()
        if p is None:
            return redis_execute(self, *args, **options)
        return p.engine.perform(p, redis_call(args), lambda: redis_execute(self, *args, **options))

    pipe_immediate = Pipeline.immediate_execute_command

    def immediate_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        p = _active()
        if p is None:
            return pipe_immediate(self, *args, **options)
        return p.engine.perform(p, redis_call(args), lambda: pipe_immediate(self, *args, **options))

    pipe_execute = Pipeline.execute

    def execute(self: Any, raise_on_error: bool = True) -> Any:
        p = _active()
        if p is None or (not self.command_stack and not self.watching):
            return pipe_execute(self, raise_on_error)
        label = "MULTI" if (self.transaction or self.explicit_transaction) else "PIPELINE"
        call = redis_batch_call(label, [c[0] for c in self.command_stack])
        return p.engine.perform(p, call, lambda: pipe_execute(self, raise_on_error))

    script_call = Script.__call__

    def call_script(self: Any, keys: Any = None, args: Any = None, client: Any = None) -> Any:
        p = _active()
        target = client if client is not None else self.registered_client
        if p is None or isinstance(target, Pipeline):  # in a pipeline: part of its step
            return script_call(self, keys, args, client)
        call = redis_script_call(self.sha, list(keys or ()), list(args or ()), self.script)
        return p.engine.perform(p, call, lambda: script_call(self, keys, args, client))

    pipe_reset = Pipeline.reset

    def reset(self: Any) -> None:
        p = getattr(getcurrent(), "process", None)
        if p is not None and p.state in _DEAD:
            # A dead process unwinding out of ``with r.pipeline()``: reset would send
            # UNWATCH on its closed connection, reconnecting to do it. Closing the
            # connection already dropped the WATCH: send nothing.
            self.watching = False
        pipe_reset(self)

    redis.Redis.execute_command = execute_command  # type: ignore[method-assign]
    Pipeline.reset = reset  # type: ignore[method-assign]
    Pipeline.immediate_execute_command = immediate_execute_command  # type: ignore[method-assign]
    Pipeline.execute = execute  # type: ignore[method-assign]
    Script.__call__ = call_script  # type: ignore[method-assign]

    # -- psycopg 3 ------------------------------------------------------------------
    def sql_hook(name: str) -> None:
        original = getattr(psycopg.Cursor, name)

        def hooked(self: Any, query: Any, params: Any = None, *a: Any, **kw: Any) -> Any:
            p = _active()
            if p is None:
                return original(self, query, params, *a, **kw)
            call = sql_call(_sql_text(query, self.connection), params)
            return p.engine.perform(
                p, call, lambda: original(self, query, params, *a, **kw), self.connection
            )

        setattr(psycopg.Cursor, name, hooked)

    sql_hook("execute")
    sql_hook("executemany")

    # Every psycopg round trip goes through Connection.wait. Inside a scheduled call
    # it must not block the one thread all processes share on a row lock that a
    # parked process holds: the engine waits for the reply cooperatively.
    conn_wait = psycopg.Connection.wait

    def wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        p = getattr(getcurrent(), "process", None)
        if p is None or p.state not in IN_CALL or self is p.engine.servers.admin_db:
            return conn_wait(self, gen, *args, **kwargs)
        return p.engine.locks.wait_for_reply(p, self, gen)

    psycopg.Connection.wait = wait  # type: ignore[method-assign]

    def keyword_hook(cls: type, name: str, keyword: Callable[..., str], conn: Callable) -> None:
        original = getattr(cls, name)

        def hooked(self: Any, *a: Any) -> Any:
            p = _active()
            if p is None:
                return original(self, *a)
            return p.engine.perform(
                p, sql_keyword_call(keyword(*a)), lambda: original(self, *a), conn(self)
            )

        setattr(cls, name, hooked)

    keyword_hook(psycopg.Connection, "commit", lambda: "COMMIT", lambda c: c)
    keyword_hook(psycopg.Connection, "rollback", lambda: "ROLLBACK", lambda c: c)
    keyword_hook(psycopg.Transaction, "__enter__", lambda: "BEGIN", lambda t: t.connection)
    keyword_hook(
        psycopg.Transaction,
        "__exit__",
        lambda exc_type, *_: "COMMIT" if exc_type is None else "ROLLBACK",
        lambda t: t.connection,
    )
