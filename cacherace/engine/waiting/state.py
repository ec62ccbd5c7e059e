"""What a waiting process's bookkeeping holds: its pace (sleeps, repeats, the spin
or wait it is in) and each wait's state (see :mod:`cacherace.engine.waiting`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cacherace.errors import HarnessError

#: How many times a spinner may go on alone when nobody else can and no time jump
#: would help (its loop may end on its own clock, as redis-py's blocking timeout).
MAX_SPINS_ALONE = 20
#: Polling interval assumed for a spinner that never slept.
MIN_INTERVAL = 0.001


class Stuck(HarnessError):
    """No process can go on (a deadlock, a lock nobody can release): a finding of
    the code under test, recorded as ``Wait`` events that did not end. Settle ends
    unsettled with it as the reason; ``bounded-wait`` reports it as broken."""


@dataclass(slots=True)
class WaitState:
    """What one process waits for, since when (virtual time), on whom."""

    what: str
    on: tuple[str, ...]
    since: float
    #: None for a spin: ready once anything changed since ``seen`` (a count of
    #: changes) or virtual time moved since ``at``
    ready: Callable[[], bool] | None = None
    deadline: float | None = None  # virtual time a timed wait gives up
    bound: float | None = None
    seen: int = 0
    keys: tuple[str, ...] = ()
    interval: float = 0.0
    at: float = 0.0
    #: a spin asked again after the keys it spun on were due to expire, and still
    #: found them held: someone took them again, so its bound stands
    overdue: bool = False


class Pace:
    """A process's waiting bookkeeping (one per process, reset per operation)."""

    __slots__ = ("alone", "last", "repeats", "since", "sleep_len", "sleep_seen",
                 "sleep_until", "slept", "spin", "wait")  # fmt: skip

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sleep_until: float | None = None  # parked in time.sleep until then
        self.sleep_len = 0.0
        self.slept = False  # slept since its last driver call
        self.sleep_seen = -1  # the change count at its last sleep
        self.last: tuple[Any, ...] = ()  # (target, command, args, result, changes after)
        self.since = 0.0  # virtual time of the first of its repeated calls
        self.repeats = 0
        self.spin: WaitState | None = None
        self.wait: WaitState | None = None
        self.alone = 0
