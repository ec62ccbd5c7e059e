"""Steps that cannot complete at once. A statement waiting for a row lock held by
a parked process waits cooperatively (the run goes on, and it completes right
after the step that releases the lock); a call that never returns by itself is
reported with the client, the call and the key, within its timeout."""

from __future__ import annotations

from typing import ClassVar

import pytest

from cacherace.engine.engine import HarnessError, Scheduler
from cacherace.model.history import DbChange, Step
from cacherace.strategies import Strategy

from .conftest import TABLE, MakeScheduler

UPDATE = f"UPDATE {TABLE} SET value = %s WHERE key = %s"


class LockAcrossSteps(Strategy):
    """write: with ``tx`` in the value, UPDATE inside a transaction block and then a
    Redis call (a client parked there holds the row lock); otherwise an autocommit
    UPDATE."""

    name: ClassVar[str] = "lock-across-steps"

    def write(self, key: str, value: str) -> None:
        if "tx" not in value:
            self.db.execute(UPDATE, (value, key))
            return
        with self.db.transaction():
            self.db.execute(UPDATE, (value, key))
            self.redis.set(self.settings.cache_key(key), value)


@pytest.fixture
def s(make_scheduler: MakeScheduler) -> Scheduler:
    s = make_scheduler(LockAcrossSteps, clients=2)
    s.reset()
    s.start("c0", "write", "k1", "tx-0")
    s.step("c0")  # BEGIN
    s.step("c0")  # UPDATE: c0 holds k1's row lock, parked at its SET
    assert s.processes["c0"].pending is not None
    assert s.processes["c0"].pending.command == "SET crh:k1 tx-0"
    return s


def _steps(s: Scheduler) -> list[tuple[str, str]]:
    return [(e.process, e.command.split()[0]) for e in s.history.events if isinstance(e, Step)]


@pytest.mark.parametrize("value", ["auto-1", "tx-1"])
def test_a_statement_waiting_for_a_parked_lock_holder_waits_cooperatively(
    s: Scheduler, value: str
) -> None:
    s.start("c1", "write", "k1", value)
    if "tx" in value:
        s.step("c1")  # BEGIN
    before = len(s.history.events)
    assert s.step("c1")  # UPDATE sent: it waits for c0's lock, and the run goes on
    assert s.processes["c1"].waiting and s.busy("c1")
    assert len(s.history.events) == before  # no step recorded until it completes
    assert not s.step("c1")  # asking again changes nothing while c0 holds the lock
    s.run_to_end("c1")  # cannot finish before the lock's holder does: returns
    assert s.processes["c1"].waiting
    s.step("c0")  # c0's SET; it then leaves its transaction block...
    s.step("c0")  # ...COMMIT releases the lock: c1's UPDATE completes right after it
    assert not s.processes["c1"].waiting
    order = _steps(s)
    commit = order.index(("c0", "COMMIT"))
    assert order[commit + 1] == ("c1", "UPDATE")
    # The released statement runs at the server as soon as c0's COMMIT releases the
    # lock, before the harness reads the row back: an autocommit UPDATE's value is
    # what the timeline shows after that COMMIT (c0's own value was current for an
    # instant no one could read). A transaction's UPDATE is not committed yet.
    changes = [e.value for e in s.history.events if isinstance(e, DbChange)]
    assert changes == ([value] if "tx" not in value else ["tx-0"])
    end = s.settle()
    assert end.settled and end.db == {"k1": value}


def test_a_crashed_lock_holder_releases_the_waiting_statement(s: Scheduler) -> None:
    s.start("c1", "write", "k1", "auto-1")
    s.step("c1")
    assert s.processes["c1"].waiting
    s.crash_client("c0")  # its connection closes: the server rolls it back
    assert not s.processes["c1"].waiting
    assert _steps(s)[-1] == ("c1", "UPDATE")
    assert s.settle().db == {"k1": "auto-1"}


def test_settle_runs_the_holder_then_the_waiter(s: Scheduler) -> None:
    s.start("c1", "write", "k1", "tx-1")
    s.step("c1")  # BEGIN
    s.step("c1")  # UPDATE waits for c0
    end = s.settle()  # c0 first (it ends), then c1 completes
    assert end.settled and end.db == {"k1": "tx-1"}
    assert not any(p.waiting for p in s.processes.values())


def test_a_waiting_client_works_again_after_reset(s: Scheduler) -> None:
    s.start("c1", "write", "k1", "auto-1")
    s.step("c1")
    assert s.processes["c1"].waiting
    s.reset()
    for name in ("c1", "c0"):
        s.start(name, "write", "k1", f"tx-{name}")
        s.run_to_end(name)
    assert s.settle().db == {"k1": "tx-c0"}


class WaitsForever(Strategy):
    """read: a Redis call that never returns by itself (WAIT for a replica that
    does not exist, no timeout; a blocking pop would be a cooperative wait)."""

    name: ClassVar[str] = "waits-forever"

    def read(self, key: str) -> str | None:
        return str(self.redis.execute_command("WAIT", 1, 0))

    def write(self, key: str, value: str) -> None:
        self.redis.set(self.settings.cache_key(key), value)


def test_a_redis_call_that_does_not_return_is_reported(
    make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_scheduler(WaitsForever, clients=1)
    client = s.redis_server.client
    # the clients' socket timeout bounds a Redis step (5 s by default): 0.2 s here
    monkeypatch.setattr(
        s.redis_server, "client", lambda **kw: client(**{"socket_timeout": 0.2, **kw})
    )
    s.reset()
    s.start("c0", "read", "k1")
    with pytest.raises(HarnessError) as raised:
        s.step("c0")
    message = str(raised.value)
    assert "c0's redis call `WAIT 1 0` in its read of k1" in message
    assert "(TimeoutError)" in message
    assert not s.busy("c0")
    s.start("c0", "write", "k1", "x")  # a new connection for the next operation
    s.run_to_end("c0")
    assert s.admin_redis.get("crh:k1") == "x"
