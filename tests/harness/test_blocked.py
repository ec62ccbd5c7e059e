"""A blocked step never hangs the suite: it is reported with the client, the call
and the key, within the lock timeout."""

from __future__ import annotations

import time
from typing import ClassVar

import pytest

from cacherace.harness import scheduler as scheduler_module
from cacherace.harness.scheduler import HarnessError, Scheduler
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
def s(make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch) -> Scheduler:
    monkeypatch.setattr(scheduler_module, "LOCK_TIMEOUT_S", 0.2)  # SET lock_timeout = '0.2s'
    s = make_scheduler(LockAcrossSteps, clients=2)
    s.reset()
    s.start("c0", "write", "k1", "tx-0")
    s.step("c0")  # BEGIN
    s.step("c0")  # UPDATE: c0 holds k1's row lock, parked at its SET
    assert s.processes["c0"].pending is not None
    assert s.processes["c0"].pending.command == "SET crh:k1 tx-0"
    return s


@pytest.mark.parametrize("value", ["auto-1", "tx-1"])
def test_a_step_waiting_for_a_parked_lock_holder_raises(s: Scheduler, value: str) -> None:
    s.start("c1", "write", "k1", value)
    if "tx" in value:
        s.step("c1")  # BEGIN
    began = time.monotonic()
    with pytest.raises(HarnessError) as raised:
        s.step("c1")  # UPDATE waits for c0's lock
    assert time.monotonic() - began < 2
    message = str(raised.value)
    assert "c1's postgres call" in message  # the client
    assert f"`{UPDATE} [{value}, k1]` in its write of k1 did not return" in message
    assert "LockNotAvailable" in message
    assert "parked inside a transaction: c0" in message  # who holds the lock
    assert not s.busy("c1")
    # the lock holder can still finish, and the run settles
    end = s.settle()
    assert end.db == {"k1": "tx-0"}


@pytest.mark.parametrize("value", ["auto-1", "tx-1"])
def test_the_blocked_client_works_again_after_reset(s: Scheduler, value: str) -> None:
    s.start("c1", "write", "k1", value)
    with pytest.raises(HarnessError):
        while s.busy("c1"):
            s.step("c1")
    s.reset()
    for name in ("c1", "c0"):
        s.start(name, "write", "k1", f"tx-{name}")
        s.run_to_end(name)
    assert s.settle().db == {"k1": "tx-c0"}


class WaitsForever(Strategy):
    """read: a Redis call that never returns by itself (BLPOP with no timeout)."""

    name: ClassVar[str] = "waits-forever"

    def read(self, key: str) -> str | None:
        return str(self.redis.blpop([self.settings.cache_key(key)], 0))


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
    assert "c0's redis call `BLPOP crh:k1 0` on crh:k1 in its read of k1" in message
    assert "(TimeoutError)" in message
    assert not s.busy("c0")
    s.admin_redis.rpush("crh:k1", "x")  # the blocked BLPOP is gone: nobody takes this
    assert s.admin_redis.llen("crh:k1") == 1
    s.start("c0", "read", "k1")  # a new connection for the next operation
    s.run_to_end("c0")
    assert s.history.events[-1].value == "('crh:k1', 'x')"  # type: ignore[union-attr]
