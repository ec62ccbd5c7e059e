"""Observers: bookkeeping that must happen right after a step, before any other
step runs - virtual TTL deadlines after a Redis step (:mod:`.expiry`), the
database timeline after a step that committed (:mod:`.timeline`), the pushes of
client-side caches after a Redis step (:mod:`.invalidations`). One hook,
:meth:`Observers.after_step`, called by the step for every driver call."""

from __future__ import annotations

from typing import Any

from psycopg.pq import TransactionStatus

from cacherace.engine.drivers.calls import REDIS, Call
from cacherace.engine.observers.expiry import ExpiryTracker
from cacherace.engine.observers.invalidations import Invalidations
from cacherace.engine.observers.timeline import DbTimeline

_IDLE, _UNKNOWN = TransactionStatus.IDLE, TransactionStatus.UNKNOWN


class Observers:
    __slots__ = ("clock", "invalidations", "locks", "servers", "timeline", "tracker", "waiting")

    def __init__(self, servers: Any, clock: Any, locks: Any, tracker: ExpiryTracker,
                 timeline: DbTimeline, waiting: Any, recorder: Any) -> None:  # fmt: skip
        self.invalidations = Invalidations(servers, recorder)  # client-side caches' pushes
        self.servers = servers
        self.clock = clock
        self.locks = locks
        self.tracker = tracker
        self.timeline = timeline
        self.waiting = waiting  # spins: a call repeated with nothing changed

    def after_step(self, p: Any, call: Call, result: Any, failure: BaseException | None,
                   conn: Any, index: int) -> None:  # fmt: skip
        self.waiting.after_step(p, call, index)
        if call.target == REDIS:
            if self.servers.cache_up and REDIS not in self.servers.paused:  # else at resume
                self.tracker.after(call, result, self.clock.now, failure is not None, p.started)
            if self.invalidations.tracked:
                self.invalidations.after(p)
            return
        if call.writes:
            p.dirty = True
        if p.dirty and conn is not None:
            status = conn.pgconn.transaction_status  # conn.info builds an object per access
            if status == _IDLE:
                p.dirty = False
                self.locks.let_released_statements_finish()
                self.timeline.observe(index)
            elif status == _UNKNOWN:  # connection lost: nothing committed
                p.dirty = False


__all__ = ["DbTimeline", "ExpiryTracker", "Invalidations", "Observers"]
