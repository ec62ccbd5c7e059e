"""settle(): heal, run what is in flight to its end in process order, drain the
actors, record the end state."""

from __future__ import annotations

import pytest

from cacherace.model.history import Complete, EndState, Invoke, Outcome, Step
from cacherace.strategies.cache_aside import CacheAside
from cacherace.strategies.write_behind import WriteBehind

from .conftest import MakeScheduler
from .helpers import after, completes, of, steps


def test_in_flight_operations_finish_in_process_order(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=3)
    h = s.reset()
    s.start("c2", "read", "k1")  # parked at GET
    s.start("c1", "write", "k1", "k1.1")
    s.step("c1")  # UPSERT done; parked at DEL
    s.start("c0", "read", "k1")
    s.step("c0")  # GET: miss; parked at SELECT
    mark = h.events[-1]
    end = s.settle()
    tail = after(h, mark)
    order = [
        (e.process, e.command.split()[0] if isinstance(e, Step) else "done")
        for e in tail
        if isinstance(e, Step | Complete)
    ]
    assert order == [
        ("c0", "SELECT"), ("c0", "SET"), ("c0", "done"),
        ("c1", "DEL"), ("c1", "done"),  # deletes what c0 just cached
        ("c2", "GET"), ("c2", "SELECT"), ("c2", "SET"), ("c2", "done"),
    ]  # fmt: skip
    assert not any(isinstance(e, Invoke) for e in tail)  # settle starts no client operation
    assert tail[-1] is end and isinstance(end, EndState) and end.settled and end.reason == ""
    assert (end.db, end.cache) == ({"k1": "k1.1"}, {"k1": "k1.1"})
    assert all(c.type is Outcome.OK for c in completes(h))
    assert not any(s.busy(n) for n in s.processes)
    assert s.settle().index == end.index + 1  # idempotent: only another end state


def test_settle_drains_the_write_behind_flusher(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(WriteBehind, clients=2, keys=("k1", "k2"))
    h = s.reset()
    assert s.actors == ("flush",)
    s.start("c0", "write", "k1", "k1.1")
    s.run_to_end("c0")
    s.start("c1", "write", "k2", "k2.1")  # parked at its MULTI: still in flight
    s.start("flush", "flush")
    s.step("flush")  # LPOP: takes c0's write; parked at its UPSERT
    mark = h.events[-1]
    end = s.settle()
    tail = after(h, mark)
    assert [e.process for e in tail if isinstance(e, Complete)] == [
        "c1",  # clients first
        "flush",  # the flush in flight (c0's write)
        "flush",  # the queue: c1's write
        "flush",  # nothing left: 0
        "flush",  # after the strategy's delay, once more: 0
    ]
    flushes = [c.value for c in completes(h, "flush")]
    assert flushes == ["1", "1", "0", "0"]
    assert s.admin_redis.llen("crh:#write-behind:queue") == 0
    assert end.settled and end.db == {"k1": "k1.1", "k2": "k2.1"}
    assert end.cache == {"k1": "k1.1", "k2": "k2.1"}
    assert [e.command.split()[0] for e in steps(h, "flush")] == [
        "LPOP", "INSERT", "LPOP", "INSERT", "LPOP", "LPOP",
    ]  # fmt: skip
    assert of(h, EndState) == [end]


def test_settle_heals_crashed_servers(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    if not (s.redis_server.can_crash and s.pg_server.can_crash):
        pytest.skip("these servers are not ours to crash")
    s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.crash_cache()
    s.crash_db()
    end = s.settle()
    assert s.cache_up and s.db_up and end.settled
    assert end.db == {"k1": "k1.0"}  # the UPSERT met a dead database
    [op] = completes(s.history)
    assert op.type is Outcome.INFO
