"""Applying a schedule's actions to the engine.

The Hypothesis machine, the systematic explorer and ``cacherace replay`` all drive
the engine through :func:`apply`, so a saved schedule means exactly what was run.
The actions are the typed ones of :mod:`cacherace.model.actions`; a JSON object
(a trace's form, older names included) is read with ``from_json`` first.

Every schedule ends with the implicit settle (teardown): faults healed, in-flight
operations run to their end in process order, actors drained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cacherace.engine.engine import HarnessError, Scheduler
from cacherace.explore import hygiene
from cacherace.model.actions import (
    CACHE_CRASH,
    CACHE_PAUSE,
    CACHE_RESTART,
    CACHE_RESUME,
    CLIENT_CRASH,
    CLIENT_TIMEOUT,
    DB_CRASH,
    DB_PAUSE,
    DB_RESTART,
    DB_RESUME,
    Action,
    Advance,
    BadAction,
    ClientFault,
    Deliver,
    Evict,
    Finish,
    ServerFault,
    Start,
    StepAction,
    from_json,
)
from cacherace.model.history import History

__all__ = ["Action", "BadAction", "apply", "as_action", "run"]


def as_action(action: Action | Mapping[str, Any]) -> Action:
    """A typed action from either form (a trace's JSON object is parsed)."""
    return from_json(action) if isinstance(action, Mapping) else action


def _server_fault(s: Scheduler, fault: str) -> bool:
    if fault == CACHE_CRASH:
        return s.crash_cache()
    if fault == CACHE_RESTART:
        return s.restart_cache()
    if fault == DB_CRASH:
        return s.crash_db()
    if fault == DB_RESTART:
        return s.restart_db()
    hang = {CACHE_PAUSE: s.nemesis.pause_cache, CACHE_RESUME: s.nemesis.resume_cache,
            DB_PAUSE: s.nemesis.pause_db, DB_RESUME: s.nemesis.resume_db}.get(fault)  # fmt: skip
    if hang is not None:
        return hang()
    raise BadAction(f"unknown server fault {fault!r}")


def _changed(s: Scheduler, applied: bool) -> bool:
    """After the nemesis changed Redis: client-side caches' pushes are held."""
    if applied:
        s.invalidations.after(None)
    return applied


def apply(s: Scheduler, action: Action | Mapping[str, Any]) -> bool:
    """Apply one action; returns False when it was a no-op (e.g. stepping an idle
    client), which the explorers leave out of the recorded schedule."""
    a = as_action(action)
    try:
        match a:
            case StepAction(process):
                return s.step(process)
            case Finish(process):
                if not s.busy(process):
                    return False
                s.run_to_end(process)
                return True
            case Start(process, f, key, value):
                return s.start(process, f, key, value)
            case Advance(seconds):
                s.advance(float(seconds))
                return True
            case ClientFault(fault, process):
                if fault == CLIENT_CRASH:
                    return s.crash_client(process)
                if fault == CLIENT_TIMEOUT:
                    return _changed(s, s.nemesis.timeout_client(process))
                return s.fail_next_call(process, fault)
            case ServerFault(fault):
                return _changed(s, _server_fault(s, fault))
            case Evict(key):
                return _changed(s, s.evict(key))
            case Deliver(process):
                if process not in s.processes:
                    raise KeyError(process)
                return s.invalidations.deliver(process)
    except KeyError as exc:
        raise BadAction(f"action {a!r} names an unknown process or key: {exc}") from exc
    except (Exception, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # from the strategy, through its worker: not a verdict
        raise HarnessError(
            f"the strategy raised {type(exc).__name__} ({exc}), which is not an Exception,"
            f" during {a!r}"
        ) from exc
    raise BadAction(f"not an action: {a!r}")


def run(
    s: Scheduler, actions: Iterable[Action | Mapping[str, Any]], initial: Any = None
) -> History:
    """Reset, apply every action, settle: the whole run of a saved schedule."""
    history = hygiene.reset(s, initial)
    for action in actions:
        apply(s, action)
    s.settle()
    return history
