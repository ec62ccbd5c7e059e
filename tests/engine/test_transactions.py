"""Transactions never outlive their run, and the harness never hangs on a lock.

- An operation whose ``with conn.transaction()`` block did not run its exit (a
  driver-call fault on its BEGIN or COMMIT) loses its connection when it ends, as a
  real connection failure does: the server rolls the transaction back and the
  process's next operation starts on a new connection.
- Every process's transaction is ended when its run ends, before the next reset
  touches the tables.
- The harness's own statements are bounded: a lock held from outside the run is
  one error naming its holder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from cacherace.engine.engine import FAIL_AFTER, FAIL_BEFORE, HarnessError, Scheduler
from cacherace.explore import apply as schedule
from cacherace.explore.cell import Budget, explore_strategy
from cacherace.model.actions import ClientFault, Finish, Start, StepAction
from cacherace.model.history import Complete, DbChange, EndState

from .conftest import TABLE, MakeScheduler
from .helpers import of
from .strategies import HoldsRowLock, LeavesTransactionOpen, SetThenTransaction


def _in_transaction(s: Scheduler) -> list[str]:
    """The run's backends the server sees inside a transaction."""
    rows = s.admin_db.execute(
        "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
    ).fetchall()
    return sorted(name for (name,) in rows)


# c0's write, faulted at its transaction block's COMMIT, then c1's write and a
# second write of c0: both must commit.
def _faulted(fault: str, steps_before: int) -> list[Any]:
    return [
        Start("c0", "write", "k1", "k1.1"),
        *[StepAction("c0")] * steps_before,
        ClientFault(fault, "c0"),
        Finish("c0"),
        Start("c1", "write", "k1", "k1.2"),
        Finish("c1"),
        Start("c0", "write", "k1", "k1.3"),
        Finish("c0"),
    ]


@pytest.mark.parametrize(
    ("fault", "steps_before", "c0_first"),
    [
        (FAIL_BEFORE, 3, None),  # COMMIT never reached the server: rolled back
        (FAIL_AFTER, 1, None),  # BEGIN ran, the block never entered: rolled back
        (FAIL_AFTER, 3, "k1.1"),  # COMMIT ran: committed, the connection is fine
    ],
    ids=["fail-before-commit", "fail-after-begin", "fail-after-commit"],
)
def test_a_fault_in_a_transaction_block_leaves_no_transaction_behind(
    make_scheduler: MakeScheduler, fault: str, steps_before: int, c0_first: str | None
) -> None:
    s = make_scheduler(SetThenTransaction)
    history = schedule.run(s, _faulted(fault, steps_before))
    first, c1, again = of(history, Complete)
    assert first.type.value == "info" and "injected" in (first.error or "")
    assert c1.type.value == again.type.value == "ok"
    # c1 was never held up by a row lock, and c0's next block committed for real
    # (before the fix it nested in a savepoint of a transaction nobody committed)
    changes = [e.value for e in of(history, DbChange)]
    assert changes == [v for v in (c0_first, "k1.2", "k1.3") if v is not None]
    [end] = of(history, EndState)
    assert end.settled and end.db == {"k1": "k1.3"}
    assert _in_transaction(s) == []


def test_the_lost_connection_is_replaced_not_reused(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(SetThenTransaction)
    s.reset()
    for action in _faulted(FAIL_BEFORE, 3)[:6]:  # up to c0's faulted write's end
        schedule.apply(s, action)
    db = s.processes["c0"].db
    assert db.closed  # lost when its operation ended, not at the next reset
    s.start("c0", "write", "k1", "k1.4")
    s.run_to_end("c0")
    assert s.processes["c0"].db is not db
    assert s.processes["c0"].db.info.transaction_status == TransactionStatus.IDLE


@pytest.mark.parametrize("cls", [LeavesTransactionOpen, HoldsRowLock])
def test_a_transaction_left_open_is_ended_when_the_run_ends(
    make_scheduler: MakeScheduler, cls: type
) -> None:
    s = make_scheduler(cls)
    s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.run_to_end("c0")
    assert not s.busy("c0")
    assert _in_transaction(s) == ["cacherace c0"]  # what the next reset would wait on
    s.settle()
    # The next reset ends it before touching the tables (with c0's row lock still
    # held, its DELETE would wait on it), and the uncommitted write is gone.
    s.reset()
    assert _in_transaction(s) == []
    assert s.processes["c0"].db.info.transaction_status == TransactionStatus.IDLE
    assert s.strategy_cls.peek_database(s.admin_db, s.settings, ["k1"]) == {"k1": "k1.0"}
    assert s.connections.end_run(s.processes.values()) == []


def test_a_row_lock_held_into_settle_does_not_stall_the_reset(
    make_scheduler: MakeScheduler,
) -> None:
    # c0 holds the row lock; c1's write waits for it and is still waiting when the
    # run ends: the reset abandons c1, ends c0's transaction, and goes on.
    s = make_scheduler(HoldsRowLock)
    s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.run_to_end("c0")
    s.start("c1", "write", "k1", "k1.2")
    s.step("c1")  # BEGIN
    s.step("c1")  # UPDATE: waits for c0's lock
    assert s.processes["c1"].waiting
    assert s.connections.end_run(s.processes.values()) == ["c0"]
    s.reset()
    assert _in_transaction(s) == []


@pytest.fixture
def foreign(make_scheduler: MakeScheduler) -> Iterator[tuple[Scheduler, Any]]:
    """A scheduler, and a connection from outside its run holding k1's row lock."""
    s = make_scheduler(SetThenTransaction)
    s.reset()
    conn = s.pg_server.connect(autocommit=False, application_name="someone else")
    conn.execute(f"UPDATE {TABLE} SET value = 'theirs' WHERE key = 'k1'")
    try:
        yield s, conn
    finally:
        conn.rollback()
        conn.close()


def test_a_reset_meeting_a_foreign_lock_names_its_holder(foreign: tuple[Scheduler, Any]) -> None:
    s, conn = foreign
    s.admin_db.execute("SET lock_timeout = '50ms'")  # the bound, small: no waiting here
    with pytest.raises(HarnessError) as err:
        s.reset()
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("the database's reset waited past its bound (lock_timeout 50ms)")
    pid = conn.info.backend_pid
    assert f"backend {pid} ('someone else', idle in transaction, last statement `UPDATE" in msg
    assert "end that transaction" in msg
    conn.rollback()
    s.reset()  # the holder gone, the run goes on
    assert s.strategy_cls.peek_database(s.admin_db, s.settings, ["k1"]) == {"k1": "k1.0"}


def test_the_harness_connection_is_bounded(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler()
    show = s.admin_db.execute
    assert show("SHOW lock_timeout").fetchone() == ("5s",)
    assert show("SHOW statement_timeout").fetchone() == ("30s",)
    s.crash_db()
    s.restart_db()  # a new admin connection: bounded again
    assert show is not s.admin_db.execute
    assert s.admin_db.execute("SHOW lock_timeout").fetchone() == ("5s",)
    assert s.admin_db.execute("SHOW statement_timeout").fetchone() == ("30s",)


def test_a_process_lock_never_reaches_the_harness_bound(make_scheduler: MakeScheduler) -> None:
    # Even with the bound at 1 ms, a reset after c0 held a row lock goes through:
    # c0's transaction is ended before the reset's DELETE, so nothing waits.
    s = make_scheduler(HoldsRowLock)
    s.reset()
    s.admin_db.execute("SET lock_timeout = '1ms'")
    for _ in range(5):
        s.start("c0", "write", "k1", "k1.1")
        s.run_to_end("c0")
        s.reset()
    assert _in_transaction(s) == []


def test_exploring_the_transaction_strategy_gives_real_verdicts(
    make_scheduler: MakeScheduler,
) -> None:
    # Before the fix: "unknown: Inconsistent data generation" for two claims.
    s = make_scheduler(SetThenTransaction)
    budget = Budget(max_examples=40, mode="random", shrink=False)
    got = {r.claim: r for r in explore_strategy(
        s, "set-then-transaction", ["converges", "no-aborted-reads"], budget,
        tiers=("concurrency", "time", "faults"),
    )}  # fmt: skip
    for r in got.values():
        assert r.harness_error is None, r.harness_error
    assert got["converges"].verdict == "broken"  # its SET precedes the UPDATE: a stale set
    r = got["no-aborted-reads"]
    assert r.verdict == "holds" and r.examples > 0 and r.faults > 0, r.reason


def test_a_faulted_transaction_schedule_replays_the_same_20_times(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(SetThenTransaction)
    actions = _faulted(FAIL_BEFORE, 3)
    actions[4:4] = [Start("c1", "read", "k1"), StepAction("c1"), StepAction("c1")]
    runs = [schedule.run(s, actions).to_json() for _ in range(20)]
    assert [i for i, run in enumerate(runs) if run != runs[0]] == []


def test_psycopg_refuses_rollback_on_a_lost_block(make_scheduler: MakeScheduler) -> None:
    # Why the engine closes such a connection rather than rolling it back: psycopg
    # still counts the block whose exit never ran, and refuses.
    s = make_scheduler(SetThenTransaction)
    s.reset()
    conn = s.pg_server.connect()
    block = conn.transaction()  # kept: a collected block would exit (and roll back)
    block.__enter__()
    with pytest.raises(psycopg.ProgrammingError, match="rollback"):
        conn.rollback()
    conn.close()
