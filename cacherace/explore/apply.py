"""Schedules as data: the actions a run is made of, and how to apply them.

The Hypothesis state machine and ``cacherace replay`` both drive the scheduler
through :func:`apply`, so a saved schedule means exactly what was run. An action
is a small dict (JSON in traces)::

    {"do": "start", "process": "c0", "f": "read", "key": "k1"}
    {"do": "start", "process": "c1", "f": "write", "key": "k1", "value": "k1.1"}
    {"do": "start", "process": "flush", "f": "flush"}          # an actor's operation
    {"do": "step", "process": "c0"}                             # one driver call
    {"do": "finish", "process": "c0"}                # steps until its operation ends
    {"do": "advance", "seconds": 301}                           # virtual time
    {"do": "crash-client", "process": "c0"}
    {"do": "fail-before", "process": "c0"}   /  {"do": "fail-after", ...}
    {"do": "crash-cache"} {"do": "restart-cache"} {"do": "crash-db"} {"do": "restart-db"}
    {"do": "evict", "key": "k1"}

Every schedule ends with the implicit settle (teardown): faults healed, in-flight
operations run to their end in process order, actors drained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cacherace.engine.engine import FAIL_AFTER, FAIL_BEFORE, Scheduler
from cacherace.model.history import History

Action = dict[str, Any]


class BadAction(ValueError):
    """An action a scheduler cannot apply (corrupt or mismatched trace)."""


def apply(s: Scheduler, action: Mapping[str, Any]) -> bool:
    """Apply one action; returns False when it was a no-op (e.g. stepping an idle
    client), which the state machine leaves out of the recorded schedule."""
    try:
        do = action["do"]
        if do == "step":
            return s.step(action["process"])
        if do == "finish":
            if not s.busy(action["process"]):
                return False
            s.run_to_end(action["process"])
            return True
        if do == "start":
            return s.start(action["process"], action["f"], action.get("key"), action.get("value"))
        if do == "advance":
            s.advance(float(action["seconds"]))
            return True
        if do == "crash-client":
            return s.crash_client(action["process"])
        if do in (FAIL_BEFORE, FAIL_AFTER):
            return s.fail_next_call(action["process"], do)
        if do == "crash-cache":
            return s.crash_cache()
        if do == "restart-cache":
            return s.restart_cache()
        if do == "crash-db":
            return s.crash_db()
        if do == "restart-db":
            return s.restart_db()
        if do == "evict":
            return s.evict(action["key"])
    except KeyError as exc:
        raise BadAction(
            f"action {dict(action)!r} names an unknown field or process: {exc}"
        ) from exc
    raise BadAction(f"unknown action {action.get('do')!r} in {dict(action)!r}")


def run(s: Scheduler, actions: Iterable[Mapping[str, Any]], initial: Any = None) -> History:
    """Reset, apply every action, settle: the whole run of a saved schedule."""
    history = s.reset(initial)
    for action in actions:
        apply(s, action)
    s.settle()
    return history
