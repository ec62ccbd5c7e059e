"""Hang faults through the engine, on real servers: a call to a paused server waits
(no wall time: nothing blocks), the resume completes it, a Redis client's timeout
fires in virtual time with redis-py's own error, and what a given-up request did is
what the real server did with it on resume (see cacherace/engine/hangs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cacherace.engine.engine import Scheduler
from cacherace.engine.runtime import State
from cacherace.explore.apply import apply
from cacherace.explore.replay import replay_trace
from cacherace.model.actions import (
    CACHE_PAUSE,
    CACHE_RESUME,
    CLIENT_CRASH,
    CLIENT_TIMEOUT,
    DB_PAUSE,
    DB_RESUME,
    Advance,
    ClientFault,
    ServerFault,
    Start,
    StepAction,
    from_json,
    to_json,
)
from cacherace.model.history import DbChange, Fault, Outcome, Step, TimeAdvance
from cacherace.report.trace import load
from cacherace.servers import Backend
from cacherace.strategies._common import upsert
from cacherace.strategies.base import Strategy
from cacherace.strategies.cache_aside import CacheAside
from cacherace.strategies.write_through import WriteThrough

from .conftest import MakeScheduler
from .helpers import completes, of

CK = "crh:k1"


def _do(s: Scheduler, *actions: Any) -> list[bool]:
    return [apply(s, a) for a in actions]


def _writer_hung_at_set(s: Scheduler) -> None:
    """c0's write-through write: UPSERT done, its SET sent to the paused cache."""
    s.reset()
    s.admin_redis.ping()
    _do(s, Start("c0", "read", "k1"))
    s.run_to_end("c0")  # connected: the SET below really goes out
    assert _do(s, Start("c0", "write", "k1", "k1.1"), StepAction("c0"))
    assert _do(s, ServerFault(CACHE_PAUSE), StepAction("c0")) == [True, True]
    assert s.processes["c0"].state is State.WAITING
    assert s.redis_server.paused


def test_a_call_to_a_paused_cache_waits_and_completes_at_resume(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(WriteThrough, clients=1)
    _writer_hung_at_set(s)
    assert _do(s, StepAction("c0")) == [False]  # stepping it again does nothing yet
    before = len(of(s.history, Step))
    assert _do(s, ServerFault(CACHE_RESUME)) == [True]
    resumed = next(e for e in of(s.history, Fault) if e.fault == CACHE_RESUME)
    [step] = of(s.history, Step)[before:]  # completed by the resume, right after it
    assert (step.command, step.result, step.error) == ("SET crh:k1 k1.1 EX 300", "True", None)
    assert step.index > resumed.index and step.time == 0
    s.run_to_end("c0")
    assert completes(s.history, "c0")[-1].type is Outcome.OK
    assert s.settle().cache == {"k1": "k1.1"}


def test_a_client_timeout_gives_info_with_redis_pys_error_and_the_set_runs_at_resume(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(WriteThrough, clients=1)
    _writer_hung_at_set(s)
    assert _do(s, Advance(2.0)) == [True]
    assert _do(s, ClientFault(CLIENT_TIMEOUT, "c0")) == [True]
    # The client's socket_timeout (5 s) after it hung, in virtual time.
    [late] = [e for e in of(s.history, TimeAdvance) if e.delta != 2.0]
    assert (late.delta, s.clock.now) == (3.0, 5.0)
    step = of(s.history, Step)[-1]
    assert step.error is not None and step.error.startswith("TimeoutError: Timeout reading")
    op = completes(s.history, "c0")[-1]
    assert op.type is Outcome.INFO and op.error is not None and "TimeoutError" in op.error
    assert s.processes["c0"].state is State.IDLE
    assert _do(s, ClientFault(CLIENT_TIMEOUT, "c0")) == [False]  # nothing hangs any more
    _do(s, ServerFault(CACHE_RESUME))
    # The request reached the frozen server before its client gave up: it ran on resume.
    assert s.admin_redis.get(CK) == "k1.1"
    [resume] = [e for e in of(s.history, Fault) if e.fault == CACHE_RESUME]
    assert resume.detail == "1 given-up request could run"
    assert s.deadlines.get(CK) is not None  # its TTL is known again


def test_a_key_due_while_the_cache_is_paused_expires_at_resume(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(CacheAside, clients=1)
    s.reset()
    _do(s, Start("c0", "read", "k1"))
    s.run_to_end("c0")  # filled with its TTL of 300 s
    _do(s, ServerFault(CACHE_PAUSE), Advance(301.0))
    assert of(s.history, TimeAdvance)[-1].expired == (CK,)
    _do(s, ServerFault(CACHE_RESUME))
    assert s.admin_redis.exists(CK) == 0


def test_a_statement_to_a_paused_database_waits_unsent_and_psycopg_has_no_timeout(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(WriteThrough, clients=1)
    s.reset()
    _do(s, Start("c0", "write", "k1", "k1.1"), ServerFault(DB_PAUSE), StepAction("c0"))
    assert s.processes["c0"].state is State.WAITING
    assert s.processes["c0"].pending.command.startswith("INSERT")
    assert _do(s, ClientFault(CLIENT_TIMEOUT, "c0")) == [False]  # none for a statement
    _do(s, ServerFault(DB_RESUME))
    [change] = of(s.history, DbChange)
    assert change.value == "k1.1" and change.step == of(s.history, Step)[0].index
    s.run_to_end("c0")
    assert completes(s.history)[-1].type is Outcome.OK


class _InTransaction(Strategy):
    """Writes inside a transaction: BEGIN, UPSERT, COMMIT (the given-up cases)."""

    name = "in-transaction"
    claims = ()

    def read(self, key: str) -> str | None:
        return None

    def write(self, key: str, value: str) -> None:
        with self.db.transaction():
            upsert(self.db, self.settings.table, key, value)


@pytest.mark.parametrize(
    ("steps", "stored"),
    [(1, "k1.0"), (2, "k1.1")],
    ids=["hung-at-upsert-rolls-back", "hung-at-commit-commits"],
)
def test_a_client_crash_while_hung_on_the_database(
    make_scheduler: MakeScheduler, steps: int, stored: str
) -> None:
    s = make_scheduler(_InTransaction, clients=1)
    s.reset()
    _do(s, Start("c0", "write", "k1", "k1.1"))  # parked at BEGIN
    for _ in range(steps):
        _do(s, StepAction("c0"))
    _do(s, ServerFault(DB_PAUSE), StepAction("c0"))
    assert s.processes["c0"].state is State.WAITING
    assert _do(s, ClientFault(CLIENT_CRASH, "c0")) == [True]
    sent = of(s.history, Step)[-1]  # it was sent before the crash closed the connection
    assert sent.error is not None and sent.error.startswith("ClientCrashed")
    assert completes(s.history)[-1].type is Outcome.INFO
    _do(s, ServerFault(DB_RESUME))
    # Measured (tests/servers/pause_checks.py): the backend runs what it read, then
    # finds the connection gone: an open transaction rolls back, a COMMIT commits.
    row = s.admin_db.execute(f"SELECT value FROM {s.settings.table} WHERE key = 'k1'").fetchone()
    assert row == (stored,)
    assert [c.value for c in of(s.history, DbChange)] == ([] if stored == "k1.0" else ["k1.1"])


def test_settle_resumes_a_paused_server_and_finishes_the_hung_call(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(WriteThrough, clients=1)
    _writer_hung_at_set(s)
    end = s.settle()
    assert end.settled and end.cache == {"k1": "k1.1"}
    assert not s.redis_server.paused
    assert [e.fault for e in of(s.history, Fault)] == [CACHE_PAUSE, CACHE_RESUME]


def test_a_paused_cache_can_crash_and_its_hung_call_fails(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(WriteThrough, clients=1)
    _writer_hung_at_set(s)
    assert s.crash_cache()
    op = completes(s.history, "c0")[-1]
    assert op.type is Outcome.INFO and op.error is not None and "ConnectionError" in op.error
    assert s.restart_cache()


def test_hang_actions_read_and_write_as_json() -> None:
    for a in (ServerFault(CACHE_PAUSE), ServerFault(CACHE_RESUME), ServerFault(DB_PAUSE),
              ServerFault(DB_RESUME), ClientFault(CLIENT_TIMEOUT, "c1")):  # fmt: skip
        assert from_json(to_json(a)) == a
    assert to_json(ClientFault(CLIENT_TIMEOUT, "c1")) == {"do": "client-timeout", "process": "c1"}


TRACES = Path(__file__).parents[1] / "claims" / "traces"
HANG_TRACE = TRACES / "write-through--converges--1f9347.json"


def test_the_hang_trace_shows_the_ambiguous_write_and_replays_every_time(
    cacherace_backend: Backend,
) -> None:
    """write-through's cache hangs mid-write: c0's SET times out (its write is info)
    yet runs at resume, before c1's older value lands: the cache ends stale."""
    trace = load(HANG_TRACE)
    assert {a.do for a in trace.schedule} >= {CACHE_PAUSE, CLIENT_TIMEOUT, CACHE_RESUME}
    [info] = [c for c in completes(trace.history) if c.type is Outcome.INFO]
    assert info.process == "c0" and info.error is not None and "TimeoutError" in info.error
    runs = 3
    same = sum(replay_trace(trace, cacherace_backend).same_history for _ in range(runs))
    assert same == runs


def test_closing_the_engine_resumes_what_it_paused(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(WriteThrough, clients=1)
    _writer_hung_at_set(s)
    _do(s, ServerFault(DB_PAUSE))
    s.close()  # the session's servers outlive it
    assert not s.redis_server.paused and not s.pg_server.paused
    with s.pg_server.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_systematic_explorer_offers_pauses_resumes_and_timeouts(
    make_scheduler: MakeScheduler,
) -> None:
    from cacherace.explore.choices import Choice, Choices, RunState
    from cacherace.explore.scope import Scope, Workload

    s = make_scheduler(WriteThrough, clients=1)
    _writer_hung_at_set(s)
    w = Workload(ops=((("write", "k1"),),), actor_runs=())
    choices = Choices(s, Scope(clients=1, faults=2), "crashes", [1.0])
    run = RunState(w, ("c0",), down={CACHE_PAUSE}, faults=1)
    offered = choices.enabled(run)
    assert Choice(CLIENT_TIMEOUT, None, "c0") in offered
    assert Choice(CACHE_RESUME) in offered
    assert Choice("cache-crash") not in offered  # paused: it resumes first
    assert Choice(DB_PAUSE) in offered
    assert choices.actions(run, Choice(CLIENT_TIMEOUT, None, "c0"), {}) == [
        ClientFault(CLIENT_TIMEOUT, "c0")
    ]
    assert Choice(CACHE_PAUSE) not in Choices(s, Scope(clients=1), "faults", []).enabled(run)
    s.settle()


def test_a_reset_while_paused_resumes_and_ends_the_run_without_waiting(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(_InTransaction, clients=1)
    s.reset()
    _do(s, Start("c0", "write", "k1", "k1.1"), StepAction("c0"), StepAction("c0"))  # at COMMIT
    _do(s, ServerFault(DB_PAUSE), ServerFault(CACHE_PAUSE), StepAction("c0"))
    s.reset()  # a run that ended unsettled: nothing waits for the paused servers
    assert not s.pg_server.paused and not s.redis_server.paused
    row = s.admin_db.execute(f"SELECT value FROM {s.settings.table} WHERE key = 'k1'").fetchone()
    assert row == ("k1.0",)  # the transaction never committed
    _do(s, Start("c0", "write", "k1", "k1.2"))
    s.run_to_end("c0")
    assert completes(s.history)[-1].type is Outcome.OK
