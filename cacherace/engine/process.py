"""A process: one client or actor, with its own connections and strategy object,
and the worker (greenlet) that runs its current operation."""

from __future__ import annotations

import contextvars
from typing import Any

from cacherace.engine.runtime import State, Worker
from cacherace.engine.waiting import Pace
from cacherace.errors import ClientCrashed, StepBlocked  # noqa: F401  (re-exported)


class Process:
    """A client (``c0``, ``c1``, ...) or an actor (named after its method).

    Its state is one :class:`State`; the rest is the operation in flight, its
    connections (owned by :mod:`cacherace.engine.connections`) and per-step
    bookkeeping.
    """

    __slots__ = (
        "actor", "blocked", "context", "db", "dirty", "engine", "epochs", "f", "incarnation",
        "inject", "key", "loop", "name", "op", "owned", "pace", "pending", "reached", "redis",
        "started", "state", "strategy", "value", "worker",
    )  # fmt: skip

    def __init__(self, name: str, engine: Any, actor: str | None = None) -> None:
        self.name = name
        self.engine = engine
        self.actor = actor  # method name for actors, None for clients
        self.state = State.IDLE
        # -- connections and the strategy object built on them
        self.redis: Any = None
        self.db: Any = None
        self.strategy: Any = None
        self.epochs = (-1, -1)  # server epochs its connections belong to
        self.loop: Any = None  # an async strategy's event loop (cacherace.engine.aio)
        # -- the operation in flight
        self.worker: Worker | None = None
        self.op: int | None = None
        self.f = ""
        self.key: str | None = None
        self.value: str | None = None
        self.pending: Any = None  # the driver Call it is parked at
        self.inject: str | None = None  # driver-call fault for its next step
        self.blocked: str | None = None  # why its step blocked (state BLOCKED)
        self.reached = False  # some step of the current operation reached a server
        self.started = 0.0  # time.perf_counter() when its current step was sent
        self.dirty = False  # its open transaction has written
        # -- waiting (sleeps, spins, threading waits) and what it opened itself
        self.pace = Pace()
        self.owned: list[Any] = []  # weak references to a library's own connections
        self.incarnation = 0  # bumped with each new strategy object (its thread-locals)
        #: its contextvars, shared by the workers of its operations (a new greenlet
        #: would start with an empty context: asgiref's Local, Django's connections)
        self.context = contextvars.Context()

    @property
    def busy(self) -> bool:
        return self.worker is not None

    @property
    def waiting(self) -> bool:
        return self.state is State.WAITING

    def __repr__(self) -> str:
        return f"Process({self.name}, {self.state.value}, op={self.op}, pending={self.pending})"
