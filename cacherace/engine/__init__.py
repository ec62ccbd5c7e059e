"""The engine: runs one schedule against real servers, one step at a time.

:class:`Engine` is the facade; its collaborators each live in their own module
(runtime, step, connections, locks, nemesis, recorder, observers, settle).
"""

from cacherace.engine.engine import Engine, Scheduler

__all__ = ["Engine", "Scheduler"]
