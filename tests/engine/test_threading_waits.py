"""``threading.Event`` and ``threading.Condition`` waits and ``datetime.now`` under
controlled time, on real servers: strategies whose clients share them as threads of
one process would (engine/drivers/threads.py, clock.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from cacherace.engine.drivers.clock import EPOCH
from cacherace.model.history import Complete, Wait
from cacherace.properties import check
from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Strategy

from .conftest import MakeScheduler
from .helpers import completes, of


class EventFlight(Strategy):
    """A hand-made single flight: the first reader of a key fills it and sets an
    ``Event``; a reader that finds a fill in flight waits on it (``timeout``
    virtual seconds at most), then reads the cache. ``slow`` seconds of
    ``time.sleep`` between the fill's SELECT and its SET."""

    timeout: ClassVar[float | None] = None
    slow: ClassVar[float] = 0.0
    flights: ClassVar[dict[str, Any]] = {}

    def read(self, key: str) -> str | None:
        cache_key = self.settings.cache_key(key)
        event = self.flights.get(key)
        if event is not None:
            if not event.wait(self.timeout):
                return "timed out"
            return str(self.redis.get(cache_key))
        self.flights[key] = event = threading.Event()
        try:
            value = select_value(self.db, self.settings.table, key)
            if self.slow:
                time.sleep(self.slow)
            self.redis.set(cache_key, str(value), ex=self.settings.ttl)
        finally:
            del self.flights[key]
            event.set()
        return value

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)


class SlowEventFlight(EventFlight):
    timeout = 2.0
    slow = 10.0


class ConditionFeed(Strategy):
    """Readers wait on a shared ``Condition`` until a write of their key announced
    itself (``wait_for``); a write commits, then notifies every waiter."""

    shared: ClassVar[dict[str, Any]] = {}

    def __init__(self, redis: Any, db: Any, settings: Any) -> None:
        super().__init__(redis, db, settings)
        if not self.shared:  # made after the engine installed the cooperative kinds
            self.shared.update(cond=threading.Condition(), written=set())

    def read(self, key: str) -> str | None:
        cond, written = self.shared["cond"], self.shared["written"]
        with cond:
            cond.wait_for(lambda: key in written)
        return select_value(self.db, self.settings.table, key)

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        cond = self.shared["cond"]
        with cond:
            self.shared["written"].add(key)
            cond.notify_all()


class Stamped(Strategy):
    """A read returns the row with the ``datetime.now`` it was read at."""

    def read(self, key: str) -> str | None:
        value = select_value(self.db, self.settings.table, key)
        return f"{value}@{datetime.now(UTC).timestamp() - EPOCH:g}"

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)


def test_an_event_wait_lets_the_setter_run(make_scheduler: MakeScheduler) -> None:
    EventFlight.flights.clear()
    s = make_scheduler(EventFlight, clients=2)
    h = s.reset()
    s.start("c0", "read", "k1")  # the filler, parked at its SELECT
    s.start("c1", "read", "k1")  # finds the fill in flight: waits on the Event
    assert not s.step("c1")  # nothing it can do until c0 sets it
    s.run_to_end("c1")  # runs c0 to its set(), then c1 reads the cache
    assert [(c.process, c.value) for c in completes(h)] == [("c0", "k1.0"), ("c1", "k1.0")]
    [wait] = of(h, Wait)
    assert (wait.process, wait.what, wait.ended) == ("c1", "a notify", True)
    assert s.clock.now == 0.0  # nobody slept: no virtual time passed
    assert check("single-flight", h).status.value == "holds"  # c1 never read the database


def test_an_event_waits_timeout_counts_in_virtual_time(make_scheduler: MakeScheduler) -> None:
    SlowEventFlight.flights.clear()
    s = make_scheduler(SlowEventFlight, clients=2)
    h = s.reset()
    s.start("c0", "read", "k1")
    s.step("c0")  # its SELECT; next it sleeps 10 s before its SET
    s.start("c1", "read", "k1")  # waits on the Event, 2 s at most
    s.run_to_end("c1")
    assert [(c.process, c.value) for c in completes(h)] == [("c1", "timed out")]
    assert s.clock.now == 2.0  # the wait's timeout, before c0's wake-up at 10 s
    [wait] = of(h, Wait)
    assert (wait.process, wait.since, wait.time, wait.bound) == ("c1", 0.0, 2.0, 2.0)  # timed out
    s.run_to_end("c0")
    assert completes(h, "c0")[-1].value == "k1.0" and s.clock.now == 10.0


def test_a_condition_wakes_every_waiter_on_notify_all(make_scheduler: MakeScheduler) -> None:
    ConditionFeed.shared.clear()
    s = make_scheduler(ConditionFeed, clients=3)
    h = s.reset()
    s.start("c0", "read", "k1")  # both wait in cond.wait_for
    s.start("c1", "read", "k1")
    assert not s.step("c0") and not s.step("c1")
    s.start("c2", "write", "k1", "k1.1")
    s.run_to_end("c2")  # UPSERT, then notify_all
    s.run_to_end("c0")
    s.run_to_end("c1")
    done = [(c.process, c.value) for c in of(h, Complete)]
    assert done == [("c2", None), ("c0", "k1.1"), ("c1", "k1.1")]
    waits = of(h, Wait)
    assert sorted(w.process for w in waits) == ["c0", "c1"]
    assert all(w.ended and w.what == "a notify" for w in waits)


def test_a_condition_nobody_notifies_is_a_finding(make_scheduler: MakeScheduler) -> None:
    ConditionFeed.shared.clear()
    s = make_scheduler(ConditionFeed, clients=2)
    h = s.reset()
    s.start("c0", "read", "k1")  # waits for a write that never comes
    end = s.settle()
    assert not end.settled and "c0 waits for a notify" in end.reason
    v = check("bounded-wait", h)
    assert v.broken and "c0 waits for a notify" in v.reason


def test_datetime_now_reads_virtual_time(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Stamped, clients=1)
    h = s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    s.advance(42.5)
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert [c.value for c in completes(h)] == ["k1.0@0", "k1.0@42.5"]
    assert datetime.now(UTC).timestamp() > EPOCH + 10**7  # outside processes: the real clock
