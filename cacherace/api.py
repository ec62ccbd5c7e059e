"""The public surface: what users import, and nothing else (as Porcupine's
``porcupine.go``).

    from cacherace import Strategy, Settings, check_strategy, open_backend

    with open_backend() as backend:
        results = check_strategy(backend, "myapp/cache.py:MyCache")

- :class:`Strategy`, :class:`Settings`: the protocol a strategy implements.
- :func:`claim`: register a claim of your own.
- :func:`check_strategy`: explore a strategy's claims; saves a trace per break.
- :func:`replay`: re-run a saved trace and say whether it reproduces.
- :func:`open_backend`: real Redis and PostgreSQL servers on demand.
"""

from __future__ import annotations

import os

from cacherace.errors import CacheraceError
from cacherace.explore.check import check_strategy
from cacherace.explore.replay import ReplayResult, replay_trace
from cacherace.properties import claim
from cacherace.report.trace import Trace, load
from cacherace.servers import Backend, open_backend
from cacherace.strategies import Settings, Strategy

__all__ = [
    "CacheraceError",
    "Settings",
    "Strategy",
    "check_strategy",
    "claim",
    "open_backend",
    "replay",
]


def replay(trace: Trace | str | os.PathLike[str], backend: Backend) -> ReplayResult:
    """Run a trace (or a trace file) on ``backend``'s servers and compare the new
    history and verdict with the saved ones (``.reproduced``)."""
    return replay_trace(trace if isinstance(trace, Trace) else load(trace), backend)
