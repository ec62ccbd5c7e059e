"""Waiting processes on real servers: sleeps in virtual time, spins on a lock another
process holds, threading locks and thread-locals per process, deadlocks as findings."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any, ClassVar

import redis

from cacherace.engine.drivers.clock import EPOCH
from cacherace.model.history import Complete, EndState, Outcome, TimeAdvance, Wait
from cacherace.properties import check
from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Strategy

from .conftest import MakeScheduler
from .helpers import completes, of


class Sleepy(Strategy):
    """A read that sleeps half a second and tells the time it saw."""

    def read(self, key: str) -> str | None:
        before = time.time()
        time.sleep(0.5)
        select_value(self.db, self.settings.table, key)
        return f"{before - EPOCH:g}->{time.time() - EPOCH:g}"

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)


class Locked(Strategy):
    """A write under redis-py's lock (retry every 0.1 s); ``timeout`` on the lock."""

    timeout: ClassVar[float | None] = None

    def lock(self, name: str) -> Any:
        return self.redis.lock(self.settings.aux_key(name), timeout=self.timeout, sleep=0.1)

    def read(self, key: str) -> str | None:
        return select_value(self.db, self.settings.table, key)

    def write(self, key: str, value: str) -> None:
        with self.lock(key):
            upsert(self.db, self.settings.table, key, value)


class LockedFiveSeconds(Locked):
    timeout = 5.0


class TwoLocks(Locked):
    """Writes of k1 take lock a then b; writes of k2 take b then a."""

    def write(self, key: str, value: str) -> None:
        first, second = ("a", "b") if key == "k1" else ("b", "a")
        with self.lock(first):
            self.redis.get(self.settings.cache_key(key))  # a step while holding one
            with self.lock(second):
                upsert(self.db, self.settings.table, key, value)


class SharedThreadLock(Strategy):
    """Clients share one ``threading.Lock`` (threads of one process would), and one
    ``threading.local`` that counts each client's reads."""

    shared: ClassVar[dict[str, Any]] = {}

    def __init__(self, redis: Any, db: Any, settings: Any) -> None:
        super().__init__(redis, db, settings)
        if not self.shared:  # made after the engine installed the cooperative kinds
            self.shared.update(lock=threading.Lock(), local=threading.local())

    def read(self, key: str) -> str | None:
        local = self.shared["local"]
        local.reads = getattr(local, "reads", 0) + 1
        return str(local.reads)

    def write(self, key: str, value: str) -> None:
        with self.shared["lock"]:
            self.redis.get(self.settings.cache_key(key))  # parks holding the lock
            upsert(self.db, self.settings.table, key, value)


class OwnClient(Sleepy):
    """Opens its own redis-py client, as libraries do."""

    def __init__(self, redis_client: Any, db: Any, settings: Any) -> None:
        super().__init__(redis_client, db, settings)
        kw = redis_client.connection_pool.connection_kwargs
        self.own = redis.Redis(host=kw["host"], port=kw["port"], client_name="own-client")

    def read(self, key: str) -> str | None:
        return str(self.own.get(self.settings.cache_key(key)))


def test_a_sleep_parks_and_its_step_jumps_virtual_time(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Sleepy, clients=2)
    h = s.reset()
    s.start("c0", "read", "k1")  # parked in its sleep
    s.start("c1", "read", "k1")
    assert s.clock.now == 0.0
    s.run_to_end("c0")
    s.run_to_end("c1")
    reads = completes(h)
    assert [c.value for c in reads] == ["0->0.5", "0->0.5"]  # c1 slept from t=0 too
    assert [e.delta for e in of(h, TimeAdvance)] == [0.5]  # c1 woke at 0.5: no jump
    assert time.time() > EPOCH + 10**7  # outside processes the clock is real


def test_a_spinner_lets_the_lock_holder_finish(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Locked, clients=2)
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.step("c0")  # SET NX: c0 holds the lock, parked at its UPSERT
    s.start("c1", "write", "k1", "k1.2")
    s.run_to_end("c1")  # spins; c0 goes on, releases; c1 takes the lock
    assert [(c.process, c.type) for c in completes(h)] == [
        ("c0", Outcome.OK), ("c1", Outcome.OK),
    ]  # fmt: skip
    [wait] = of(h, Wait)
    assert (wait.process, wait.on, wait.ended, wait.bound) == ("c1", ("c0",), True, None)
    assert check("bounded-wait", h).status.value == "holds"


def test_a_crashed_holders_lock_expires_in_virtual_time(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(LockedFiveSeconds, clients=2)
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.step("c0")
    assert s.crash_client("c0")
    s.start("c1", "write", "k1", "k1.2")
    s.run_to_end("c1")
    assert completes(h, "c1")[-1].type is Outcome.OK
    assert 5.0 < s.clock.now < 5.3  # waited for the lock's TTL, in virtual time only
    [wait] = of(h, Wait)
    assert wait.on == ("c0",) and wait.bound is not None and 5.0 < wait.bound <= 5.2
    assert check("bounded-wait", h).status.value == "holds"


def test_a_lock_nobody_can_release_is_a_finding(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Locked, clients=2)
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.step("c0")
    s.crash_client("c0")
    s.start("c1", "write", "k1", "k1.2")
    end = s.settle()
    assert isinstance(end, EndState) and not end.settled
    assert "c1 waits for `SET crh:#k1" in end.reason
    v = check("bounded-wait", h)
    assert v.broken and "c1 waits for" in v.reason and "held by c0" in v.reason


def test_two_processes_waiting_for_each_others_lock_are_a_deadlock(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(TwoLocks, clients=2, keys=("k1", "k2"))
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.start("c1", "write", "k2", "k2.1")
    s.step("c0")  # c0 holds a
    s.step("c1")  # c1 holds b
    s.settle()
    v = check("bounded-wait", h)
    assert v.broken and v.reason.startswith("deadlock: c0 waits for")
    assert "held by c1" in v.reason and "c1 waits for" in v.reason and "held by c0" in v.reason


def test_a_threading_lock_held_by_a_parked_process_makes_the_other_wait(
    make_scheduler: MakeScheduler,
) -> None:
    SharedThreadLock.shared.clear()
    s = make_scheduler(SharedThreadLock, clients=2)
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")  # holds the lock, parked at its GET
    s.start("c1", "write", "k1", "k1.2")  # blocks on the lock: waits, no hang
    assert not s.step("c1")  # nothing to do until c0 lets go
    s.run_to_end("c1")
    assert [c.process for c in completes(h)] == ["c0", "c1"]
    [wait] = of(h, Wait)
    assert wait.process == "c1" and wait.on == ("c0",) and "threading lock" in wait.what


def test_thread_locals_are_per_process(make_scheduler: MakeScheduler) -> None:
    SharedThreadLock.shared.clear()
    s = make_scheduler(SharedThreadLock, clients=2)
    h = s.reset()
    for name in ("c0", "c1", "c0", "c1"):
        s.start(name, "read", "k1")
        s.run_to_end(name)
    reads = [(c.process, c.value) for c in of(h, Complete)]
    assert reads == [("c0", "1"), ("c1", "1"), ("c0", "2"), ("c1", "2")]


def test_a_crash_closes_the_clients_a_library_opened(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(OwnClient, clients=1)
    s.reset()
    own = s.processes["c0"].strategy.own
    own.ping()  # unscheduled: opens its connection
    names = [c["name"] for c in s.admin_redis.client_list()]
    assert "own-client" in names
    s.start("c0", "read", "k1")  # parked at its sleep
    s.crash_client("c0")
    # the server side: its connection is gone (a closed socket arrives a few round
    # trips later, so poll without sleeping)
    assert any(
        all(c["name"] != "own-client" for c in s.admin_redis.client_list()) for _ in range(2_000)
    )


class Queue(Strategy):
    """A read pops a queue (BLPOP, 5 s timeout); a write pushes to it."""

    def read(self, key: str) -> str | None:
        got = self.redis.blpop([self.settings.aux_key(key)], timeout=5)
        return None if got is None else str(got[1])

    def write(self, key: str, value: str) -> None:
        self.redis.rpush(self.settings.aux_key(key), value)


def test_a_blocking_pop_waits_for_the_push(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Queue, clients=2)
    h = s.reset()
    s.start("c0", "read", "k1")  # parked at its BLPOP
    assert s.step("c0")  # scheduled: nothing to pop, so it waits (no call is sent)
    assert not s.step("c0")  # stepping a waiter does nothing until there is
    s.start("c1", "write", "k1", "k1.1")
    s.run_to_end("c1")
    assert s.step("c0")
    assert completes(h, "c0")[-1].value == "k1.1" and s.clock.now == 0.0
    [wait] = of(h, Wait)
    assert wait.process == "c0" and wait.ended and "BLPOP" in wait.what


def test_a_blocking_pop_times_out_in_virtual_time(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(Queue, clients=1)
    h = s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")  # nobody pushes: time jumps to its timeout
    assert s.clock.now == 5.0
    assert completes(h, "c0")[-1].value is None


_SEEN: contextvars.ContextVar[int] = contextvars.ContextVar("cr_test_seen", default=0)


class CountsInContext(Sleepy):
    """Counts each client's reads in a ContextVar (as asgiref's Local keeps
    Django's connections)."""

    def read(self, key: str) -> str | None:
        _SEEN.set(_SEEN.get() + 1)
        return str(_SEEN.get())


def test_context_variables_are_per_process(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CountsInContext, clients=2)
    h = s.reset()
    for name in ("c0", "c0", "c1", "c0"):
        s.start(name, "read", "k1")
        s.run_to_end(name)
    assert [(c.process, c.value) for c in of(h, Complete)] == [
        ("c0", "1"), ("c0", "2"), ("c1", "1"), ("c0", "3"),
    ]  # fmt: skip
