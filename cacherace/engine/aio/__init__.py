"""Async strategies: each process's operations run on its own event loop, whose
clock is virtual time, inside its worker (:mod:`.loop`); their connections
(:mod:`.connections`); what cannot be driven is refused (:mod:`.refuse`). The
driver hooks are :mod:`cacherace.engine.drivers.aio`."""

from cacherace.engine.aio.connections import AioConnections, connections_for
from cacherace.engine.aio.loop import ProcessLoop, drive, on_loop
from cacherace.engine.aio.refuse import Undrivable, is_async, refuse_undrivable, undrivable

__all__ = [
           "AioConnections",
           "ProcessLoop",
           "Undrivable",
           "connections_for",
           "drive",
           "is_async",
           "on_loop",
           "refuse_undrivable",
           "undrivable",
]  # fmt: skip
