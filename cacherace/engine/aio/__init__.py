"""Async strategies: each process's operations run on its own event loop, whose
clock is virtual time, inside its worker (:mod:`.loop`); their connections
(:mod:`.connections`); tasks that outlive their operation run as the client's
background actor (:mod:`.background`); what cannot be driven is refused
(:mod:`.refuse`). The driver hooks are :mod:`cacherace.engine.drivers.aio`."""

from cacherace.engine.aio.background import actors_of
from cacherace.engine.aio.connections import AioConnections, connections_for
from cacherace.engine.aio.loop import ProcessLoop, drive, on_loop
from cacherace.engine.aio.refuse import Undrivable, is_async, refuse_undrivable, undrivable

__all__ = [
           "AioConnections",
           "ProcessLoop",
           "Undrivable",
           "actors_of",
           "connections_for",
           "drive",
           "is_async",
           "on_loop",
           "refuse_undrivable",
           "undrivable",
]  # fmt: skip
