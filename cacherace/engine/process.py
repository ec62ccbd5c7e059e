"""A process: one client or actor, with its own connections and strategy object,
and the greenlet (worker) that runs its current operation."""

from __future__ import annotations

from typing import Any

from greenlet import greenlet

from cacherace.engine.drivers.calls import Call


class ClientCrashed(BaseException):
    """Thrown into a crashed client's worker: unwinds it without running another
    driver call. A BaseException so strategy code's ``except Exception`` cannot
    swallow the death of its own process."""


class Worker(greenlet):
    """The greenlet running one operation; ``process`` marks it as scheduled."""

    process: Process | None = None


class Process:
    """A client (``c0``, ``c1``, ...) or an actor (named after its method)."""

    __slots__ = (
        "actor",
        "blocked",
        "calling",
        "crashed",
        "db",
        "dirty",
        "epochs",
        "f",
        "in_step",
        "inject",
        "key",
        "name",
        "op",
        "pending",
        "reached",
        "redis",
        "scheduler",
        "started",
        "strategy",
        "value",
        "waiting",
        "worker",
    )

    def __init__(self, name: str, scheduler: Any, actor: str | None = None) -> None:
        self.name = name
        self.scheduler = scheduler
        self.actor = actor  # method name for actors, None for clients
        self.redis: Any = None
        self.db: Any = None
        self.strategy: Any = None
        self.worker: Worker | None = None
        self.pending: Call | None = None  # the driver call it is parked at
        self.op: int | None = None
        self.f = ""
        self.key: str | None = None
        self.value: str | None = None
        self.inject: str | None = None  # driver-call fault for its next step
        self.crashed = False
        self.blocked: str | None = None  # why its step blocked: its operation unwinds
        self.reached = False  # some step of the current operation reached a server
        self.in_step = False  # inside a step: nested driver calls run freely
        self.started = 0.0  # time.perf_counter() when its current step was sent
        self.calling = False  # inside the driver call itself (not the bookkeeping)
        self.waiting = False  # its statement waits for a row lock another process holds
        self.dirty = False  # its open transaction has written
        self.epochs = (-1, -1)  # server epochs its connections belong to

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def __repr__(self) -> str:
        return f"Process({self.name}, op={self.op}, pending={self.pending})"
