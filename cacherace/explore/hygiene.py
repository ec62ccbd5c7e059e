"""What the explorers do between two runs so one run never leaks into the next.

The engine does the work itself (:mod:`cacherace.engine.connections`): its reset
ends every transaction a process's connections left open before it touches the
tables, an operation whose transaction block did not exit loses its connection,
and the harness's own statements are bounded, so a lock held from outside the run
is one error naming its holder. What is left here is the explorers' names for it:
``end_run`` reports which processes had left a transaction open (the tests of
strategies that do), ``reset`` is the run's start every explorer calls.
"""

from __future__ import annotations

from typing import Any

from cacherace.engine.engine import Scheduler


def end_run(s: Scheduler) -> list[str]:
    """End the run: in-flight work abandoned, open transactions ended; returns the
    names of the processes that had one."""
    return s.connections.end_run(s.processes.values())


def reset(s: Scheduler, initial: Any = None) -> Any:
    """Begin a run (``s.reset``, which ends the one before)."""
    return s.reset(initial)
