"""Faults through the scheduler: driver calls failing before/after they take effect,
cache and database crashes, eviction."""

from __future__ import annotations

import pytest

from cacherace.engine.engine import FAIL_AFTER, FAIL_BEFORE, Scheduler
from cacherace.model.history import DbChange, Fault, Outcome
from cacherace.servers import RedisServer
from cacherace.strategies.cache_aside import CacheAside

from .conftest import MakeScheduler
from .helpers import completes, of, steps

CK = "crh:k1"


def _writer_parked_at_upsert(s: Scheduler) -> None:
    s.reset()
    s.start("c0", "write", "k1", "k1.1")
    assert s.processes["c0"].pending is not None
    assert s.processes["c0"].pending.command.startswith("INSERT")


def test_fail_before_never_reaches_the_database(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    _writer_parked_at_upsert(s)
    assert s.fail_next_call("c0", FAIL_BEFORE)
    assert not s.fail_next_call("c0", FAIL_AFTER)  # one fault per call
    s.run_to_end("c0")
    h = s.history
    [fault] = of(h, Fault)
    assert (fault.fault, fault.process) == (FAIL_BEFORE, "c0")
    [step] = steps(h)  # the write gave up at its UPSERT: no DEL
    assert step.injected == FAIL_BEFORE and step.result == ""
    assert step.error is not None and "before the call reached the server" in step.error
    [op] = completes(h)
    assert op.type is Outcome.FAIL and op.error is not None
    assert op.error.startswith("OperationalError: cacherace: injected")
    assert of(h, DbChange) == []
    assert s.admin_db.execute("SELECT value FROM cacherace_harness_tests").fetchall() == [("k1.0",)]


def test_fail_after_took_effect_but_the_client_saw_an_error(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(CacheAside, clients=1)
    _writer_parked_at_upsert(s)
    assert s.fail_next_call("c0", FAIL_AFTER)
    s.run_to_end("c0")
    h = s.history
    [step] = steps(h)
    assert step.injected == FAIL_AFTER and step.result == "[(2,)]" and step.error is None
    [change] = of(h, DbChange)
    assert (change.value, change.step) == ("k1.1", step.index)
    [op] = completes(h)
    assert op.type is Outcome.INFO and op.error is not None
    assert "after the call reached the server" in op.error
    assert s.settle().db == {"k1": "k1.1"}


def test_fail_before_a_redis_call_is_a_miss_for_cache_aside(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    s.reset()
    s.admin_redis.set(CK, "cached")
    s.start("c0", "read", "k1")
    s.fail_next_call("c0", FAIL_BEFORE)
    s.run_to_end("c0")
    [op] = completes(s.history)
    assert (op.type, op.value) == (Outcome.OK, "k1.0")  # fell through to the database
    with pytest.raises(ValueError, match="unknown driver-call fault"):
        s.fail_next_call("c0", "fail-sometime")
    assert not s.fail_next_call("c0", FAIL_BEFORE)  # idle: nothing to fail


def _cache_crash_restart(s: Scheduler) -> tuple[str | None, Fault, float | None]:
    s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")  # SET crh:k1 k1.0 EX 300
    s.advance(10)
    assert s.crash_cache() and not s.crash_cache()
    assert s.restart_cache() and not s.restart_cache()
    restart = of(s.history, Fault)[-1]
    return s.admin_redis.get(CK), restart, s.deadlines.get(CK)


def test_cache_crash_without_persistence_loses_the_keys(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    if not s.redis_server.can_crash:
        pytest.skip("this Redis is not ours to crash")
    value, restart, deadline = _cache_crash_restart(s)
    assert (value, restart.fault, restart.detail, deadline) == (
        None, "cache-restart", "kept 0 keys", None
    )  # fmt: skip
    assert [f.fault for f in of(s.history, Fault)] == ["cache-crash", "cache-restart"]
    assert of(s.history, Fault)[0].detail == "none"


def test_cache_crash_with_aof_always_keeps_the_keys_and_their_deadlines(
    make_scheduler: MakeScheduler, redis_aof: RedisServer
) -> None:
    s = make_scheduler(CacheAside, clients=1, redis_server=redis_aof)
    if not s.redis_server.can_crash:
        pytest.skip("this Redis is not ours to crash")
    value, restart, deadline = _cache_crash_restart(s)
    assert (value, restart.detail, deadline) == ("k1.0", "kept 1 keys", 300.0)
    assert s.advance(290) == ()  # now 300
    assert s.advance(0.001) == (CK,)


def test_a_read_while_the_cache_is_down_falls_through(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    if not s.redis_server.can_crash:
        pytest.skip("this Redis is not ours to crash")
    s.reset()
    s.start("c0", "read", "k1")  # parked at GET
    s.crash_cache()
    s.run_to_end("c0")
    [get, select, set_] = steps(s.history)
    assert get.error is not None and "ConnectionError" in get.error
    assert set_.error is not None and select.result == "[('k1.0',)]"
    [op] = completes(s.history)
    assert (op.type, op.value) == (Outcome.OK, "k1.0")
    end = s.settle()  # heals the cache
    assert end.settled and end.cache == {"k1": None} and s.cache_up


def test_database_crash_mid_operation_then_reconnect(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=2)
    if not s.pg_server.can_crash:
        pytest.skip("this PostgreSQL is not ours to crash")
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")  # parked at its UPSERT
    s.start("c1", "read", "k1")
    s.step("c1")  # GET: miss; parked at its SELECT
    old_pid = s.processes["c0"].db.info.backend_pid
    assert s.crash_db() and not s.crash_db()
    s.run_to_end("c0")
    s.run_to_end("c1")
    write, read = completes(h, "c0")[0], completes(h, "c1")[0]
    assert write.type is Outcome.INFO  # its statement was sent: effect unknown
    assert read.type is Outcome.FAIL  # a read has no effect to be unsure of
    assert s.restart_db() and not s.restart_db()
    assert [f.fault for f in of(h, Fault)] == ["db-crash", "db-restart"]
    s.start("c0", "write", "k1", "k1.2")
    s.run_to_end("c0")
    assert completes(h, "c0")[-1].type is Outcome.OK
    assert s.processes["c0"].db.info.backend_pid != old_pid
    assert of(h, DbChange)[-1].value == "k1.2"
    assert s.settle().db == {"k1": "k1.2"}


def test_database_down_at_start_fails_the_operation(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    if not s.pg_server.can_crash:
        pytest.skip("this PostgreSQL is not ours to crash")
    h = s.reset()
    s.crash_db()
    s.restart_db()
    s.crash_db()  # c0's connection belongs to an older server: it must reconnect, and cannot
    assert s.start("c0", "read", "k1")
    [op] = completes(h)
    assert op.type is Outcome.FAIL and op.error is not None and op.error.startswith("cannot")
    assert not s.busy("c0")
    end = s.settle()
    assert end.settled and end.db == {"k1": "k1.0"}


def test_eviction_drops_the_cached_value(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    h = s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert s.admin_redis.get(CK) == "k1.0" and s.deadlines.get(CK) == 300.0
    assert s.evict("k1")
    [fault] = of(h, Fault)
    assert (fault.fault, fault.key) == ("evict", "k1")
    assert s.admin_redis.get(CK) is None and s.deadlines.get(CK) is None
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert [e.command for e in steps(h)][-3:] == [
        "GET crh:k1",
        "SELECT value FROM cacherace_harness_tests WHERE key = %s [k1]",
        "SET crh:k1 k1.0 EX 300",
    ]
