"""Each interception path is scheduled as the steps it should be, with its command
text, keys and result; calls the test makes itself are not recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from cacherace.engine.engine import Scheduler
from cacherace.model.history import History, Outcome, Step
from cacherace.strategies import Strategy

from .conftest import TABLE, MakeScheduler
from .helpers import completes, steps, summary

CK = "crh:k1"
LUA = "return redis.call('SET', KEYS[1], ARGV[1])"
SELECT = f"SELECT value FROM {TABLE} WHERE key = %s"
UPDATE = f"UPDATE {TABLE} SET value = %s WHERE key = %s"


class Probe(Strategy):
    """``read(name)`` runs the driver calls of scenario ``name``."""

    name: ClassVar[str] = "probe"

    def read(self, key: str) -> str | None:
        scenario: Callable[[], Any] = getattr(self, key.replace("-", "_"))
        return str(scenario())

    # -- redis-py ------------------------------------------------------------------
    def plain(self) -> Any:
        self.redis.set(CK, "v", ex=300)
        return self.redis.get(CK)

    def pipeline(self) -> Any:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(CK, "a")
            pipe.get(CK)
            return pipe.execute()

    def multi(self) -> Any:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(CK, "1")
            pipe.incr(CK)
            return pipe.execute()

    def watch(self) -> Any:
        with self.redis.pipeline() as pipe:
            pipe.watch(CK)
            current = pipe.get(CK)
            pipe.multi()
            pipe.set(CK, f"{current}!")
            return pipe.execute()

    def eval(self) -> Any:
        return self.redis.eval(LUA, 1, CK, "x")

    def script(self) -> Any:
        return self.redis.register_script(LUA)(keys=[CK], args=["y"])

    # -- psycopg -------------------------------------------------------------------
    def conn_execute(self) -> Any:
        row = self.db.execute(SELECT, ("k1",)).fetchone()  # the rows are left to fetch
        return row[0]

    def cursor(self) -> Any:
        with self.db.cursor() as cur:
            cur.execute(UPDATE, ("k1.c", "k1"))
            cur.executemany(
                f"INSERT INTO {TABLE} (key, value) VALUES (%s, %s)", [("m1", "a"), ("m2", "b")]
            )
            return cur.rowcount

    def transaction(self) -> Any:
        with self.db.transaction():
            self.db.execute(UPDATE, ("k1.t", "k1"))
        return "done"

    def transaction_error(self) -> Any:
        with self.db.transaction():
            self.db.execute(UPDATE, ("k1.x", "k1"))
            raise ValueError("the application gave up")

    def explicit(self) -> Any:
        self.db.autocommit = False  # not a driver call (no statement is sent)
        try:
            self.db.execute(UPDATE, ("k1.e", "k1"))
            self.db.commit()
            self.db.execute(UPDATE, ("k1.r", "k1"))
            self.db.rollback()
        finally:
            self.db.autocommit = True
        return "done"


def run(s: Scheduler, scenario: str) -> tuple[History, list[Step]]:
    """Run one scenario step by step; each ``step()`` must record exactly one Step."""
    h = s.history
    first = len(h)
    assert s.start("c0", "read", scenario)
    while s.busy("c0"):
        before = len(steps(h))
        s.step("c0")
        assert len(steps(h)) == before + 1, "a step() recorded other than one driver call"
    return h, [e for e in steps(h, "c0") if e.index > first]


@pytest.fixture
def s(make_scheduler: MakeScheduler) -> Scheduler:
    s = make_scheduler(Probe, clients=1)
    s.reset()
    return s


def test_plain_commands(s: Scheduler) -> None:
    h, done = run(s, "plain")
    assert [summary(e) for e in done] == [
        ("redis", "SET crh:k1 v EX 300", (CK,), "True", None),
        ("redis", "GET crh:k1", (CK,), "v", None),
    ]
    assert completes(h)[-1].value == "v"


def test_pipeline_is_one_step(s: Scheduler) -> None:
    _, done = run(s, "pipeline")
    assert [summary(e) for e in done] == [
        ("redis", "PIPELINE SET crh:k1 a; GET crh:k1", (CK,), "[True, 'a']", None)
    ]


def test_multi_exec_is_one_step(s: Scheduler) -> None:
    _, done = run(s, "multi")
    assert [summary(e) for e in done] == [
        ("redis", "MULTI SET crh:k1 1; INCRBY crh:k1 1", (CK,), "[True, 2]", None)
    ]


def test_watch_transaction(s: Scheduler) -> None:
    s.admin_redis.set(CK, "w")
    _, done = run(s, "watch")
    assert [summary(e) for e in done] == [
        ("redis", "WATCH crh:k1", (CK,), "True", None),
        ("redis", "GET crh:k1", (CK,), "w", None),
        ("redis", "MULTI SET crh:k1 w!", (CK,), "[True]", None),
    ]
    assert s.admin_redis.get(CK) == "w!"


def test_watch_conflict_is_seen_by_the_strategy(s: Scheduler) -> None:
    s.admin_redis.set(CK, "w")
    s.start("c0", "read", "watch")
    s.step("c0")  # WATCH
    s.step("c0")  # GET
    s.admin_redis.set(CK, "other")  # someone else writes between GET and EXEC
    s.step("c0")  # EXEC aborts
    [done] = completes(s.history)
    assert done.type is Outcome.FAIL and done.error is not None and "WatchError" in done.error
    assert steps(s.history)[-1].error is not None
    assert s.admin_redis.get(CK) == "other"


def test_eval_is_one_step(s: Scheduler) -> None:
    _, done = run(s, "eval")
    [step] = done
    assert step.command == f"EVAL {LUA[:39]}… 1 crh:k1 x" and step.keys == (CK,)
    assert step.result == "OK"
    assert s.admin_redis.get(CK) == "x"


def test_registered_script_is_one_step_even_when_reloaded(s: Scheduler) -> None:
    s.admin_redis.script_flush()  # the first EVALSHA answers NOSCRIPT, then it loads
    _, done = run(s, "script")
    [step] = done
    sha = s.admin_redis.script_load(LUA)
    assert (step.command, step.keys, step.result, step.error) == (
        f"SCRIPT {sha[:8]} crh:k1 y",
        (CK,),
        "OK",
        None,
    )
    assert s.admin_redis.get(CK) == "y"
    _, again = run(s, "script")  # now loaded: EVALSHA straight away, still one step
    assert len(again) == 1


def test_connection_execute_leaves_rows_to_the_caller(s: Scheduler) -> None:
    h, done = run(s, "conn-execute")
    assert [summary(e) for e in done] == [("postgres", f"{SELECT} [k1]", (), "[('k1.0',)]", None)]
    assert completes(h)[-1].value == "k1.0"  # fetchone() still saw the row


def test_cursor_execute_and_executemany(s: Scheduler) -> None:
    _, done = run(s, "cursor")
    assert [(e.command, e.result) for e in done] == [
        (f"{UPDATE} [k1.c, k1]", "UPDATE 1"),
        (f"INSERT INTO {TABLE} (key, value) VALUES (%s, %s) [('m1', 'a'), ('m2', 'b')]", ""),
    ]
    rows = s.admin_db.execute(f"SELECT key, value FROM {TABLE} ORDER BY key").fetchall()
    assert rows == [("k1", "k1.c"), ("m1", "a"), ("m2", "b")]


def test_transaction_block(s: Scheduler) -> None:
    _, done = run(s, "transaction")
    assert [e.command for e in done] == ["BEGIN", f"{UPDATE} [k1.t, k1]", "COMMIT"]
    assert all(e.error is None for e in done)


def test_transaction_block_rolls_back_on_exception(s: Scheduler) -> None:
    h, done = run(s, "transaction-error")
    assert [e.command for e in done] == ["BEGIN", f"{UPDATE} [k1.x, k1]", "ROLLBACK"]
    [op] = completes(h)
    assert op.type is Outcome.FAIL and op.error == "ValueError: the application gave up"
    assert s.admin_db.execute(f"SELECT value FROM {TABLE}").fetchall() == [("k1.0",)]


def test_explicit_commit_and_rollback(s: Scheduler) -> None:
    _, done = run(s, "explicit")
    assert [e.command for e in done] == [
        f"{UPDATE} [k1.e, k1]",
        "COMMIT",
        f"{UPDATE} [k1.r, k1]",
        "ROLLBACK",
    ]
    assert s.admin_db.execute(f"SELECT value FROM {TABLE}").fetchall() == [("k1.e",)]


def test_unscheduled_calls_are_not_recorded(s: Scheduler) -> None:
    s.start("c0", "read", "plain")  # c0 is parked at its SET
    h = s.history
    before = list(h.events)
    p = s.processes["c0"]
    # the test uses the parked client's own connections, and runs a whole scenario
    # of its strategy object itself: none of it is a step
    p.redis.set(CK, "free")
    assert p.db.execute(SELECT, ("k1",)).fetchone() == ("k1.0",)
    assert p.strategy.transaction() == "done"
    assert p.strategy.watch() == [True]
    assert h.events == before
    s.run_to_end("c0")
    assert [e.command for e in steps(h)] == ["SET crh:k1 v EX 300", "GET crh:k1"]
