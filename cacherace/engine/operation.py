"""One operation of a process, as the body of its worker: the strategy's ``read``,
``write`` or actor method, then its outcome in the history.

Outcomes are honest about uncertainty: ``fail`` only when no effect can have
happened (a read, or a write none of whose steps reached a server); a crash or
an error after a step reached a server is ``info``.
"""

from __future__ import annotations

from inspect import iscoroutine
from typing import Any

from cacherace.engine.aio import drive
from cacherace.engine.process import Process
from cacherace.engine.runtime import current_process
from cacherace.errors import ClientCrashed
from cacherace.model.history import Outcome, new_complete


def complete(recorder: Any, p: Process, outcome: Outcome, value: str | None,
             error: str | None) -> None:  # fmt: skip
    recorder.record(new_complete, p.name, p.op, p.f, p.key, outcome, value, error)


def run_operation(recorder: Any) -> None:
    p: Process = current_process()
    try:
        if p.actor is not None:
            done = getattr(p.strategy, p.actor)()
        elif p.f == "read":
            done = p.strategy.read(p.key)
        else:
            done = p.strategy.write(p.key, p.value)
        if p.loop is not None and iscoroutine(done):  # an async strategy's operation
            done = drive(p, done)
        if p.actor is not None:
            value = None if done is None else str(done)
        else:
            value = done if p.f == "read" else None
    except ClientCrashed:
        complete(recorder, p, Outcome.INFO, None, "client crashed")
        return
    except Exception as exc:
        surely_none = p.actor is None and (p.f == "read" or not p.reached)
        outcome = Outcome.FAIL if surely_none else Outcome.INFO
        complete(recorder, p, outcome, None, f"{type(exc).__name__}: {exc}")
        return
    complete(recorder, p, Outcome.OK, value, None)
