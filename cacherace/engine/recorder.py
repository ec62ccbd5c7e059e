"""The recorder: appends history events, stamped with their index and virtual time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cacherace.model.history import Fault, History
from cacherace.model.vtime import VirtualClock


def initial_values(keys: Sequence[str]) -> dict[str, str]:
    """What each key holds in the database when a run begins."""
    return {k: f"{k}.0" for k in keys}


class Recorder:
    """Owns the run's :class:`History` and its operation numbers."""

    __slots__ = ("clock", "faults", "history", "ops")

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.history = History()
        self.ops = 0
        self.faults = 0  # Fault events so far: waiters learn that something changed

    def begin(self, initial: dict[str, str], ttl: float | None) -> History:
        self.history = History(initial=dict(initial), ttl=ttl)
        self.ops = 0
        return self.history

    def next_op(self) -> int:
        self.ops += 1
        return self.ops - 1

    def event(self, cls: type, **fields: Any) -> Any:
        if cls is Fault:
            self.faults += 1
        events = self.history.events
        e = cls(index=len(events), time=self.clock.now, **fields)
        events.append(e)
        return e

    def record(self, new: Callable[..., Any], *values: Any) -> Any:
        """:meth:`event` for the per-step events, built positionally by a
        ``history.new_*`` maker: passing every field by keyword, twice, cost more
        than the rest of the event."""
        events = self.history.events
        e = new(len(events), self.clock.now, *values)
        events.append(e)
        return e
