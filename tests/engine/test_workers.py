"""Workers are greenlets: none outlives its operation, however the operation ends,
and running schedules starts no thread."""

from __future__ import annotations

import gc
import threading
from typing import Any, ClassVar

import pytest

from cacherace.engine.engine import Scheduler
from cacherace.engine.runtime import Worker
from cacherace.explore import apply as schedule
from cacherace.model.history import Outcome
from cacherace.strategies import Strategy
from cacherace.strategies.cache_aside import CacheAside

from .conftest import TABLE, MakeScheduler
from .helpers import completes, steps
from .test_determinism import STALE_SET

UPDATE = f"UPDATE {TABLE} SET value = %s WHERE key = %s"


class Unwinding(Strategy):
    """Operations that run driver calls while they unwind: a transaction block's
    exit, a pipeline's UNWATCH, a ``finally`` clause."""

    name: ClassVar[str] = "unwinding"

    def read(self, key: str) -> str | None:
        ck = self.settings.cache_key("k1")
        if key == "tx":
            with self.db.transaction():
                self.db.execute(UPDATE, ("k1.tx", "k1"))
                self.redis.get(ck)  # parked here, holding k1's row lock
            return "done"
        if key == "watch":
            with self.redis.pipeline() as pipe:
                pipe.watch(ck)
                pipe.get(ck)  # parked here, watching
                pipe.multi()
                pipe.set(ck, "w")
                pipe.execute()
            return "done"
        try:
            self.redis.get(ck)  # parked here
        finally:
            self.redis.set(ck, "from finally")
        return "done"


def live_workers() -> list[Worker]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, Worker) and not o.dead]


def connections_received(s: Scheduler) -> int:
    return int(s.admin_redis.info("stats")["total_connections_received"])


def parked(s: Scheduler, scenario: str, steps_taken: int) -> Any:
    s.start("c0", "read", scenario)
    for _ in range(steps_taken):
        s.step("c0")
    p = s.processes["c0"]
    assert p.pending is not None and p.pending.command == "GET crh:k1"
    return p.worker


@pytest.mark.parametrize(("scenario", "steps_taken"), [("tx", 2), ("watch", 1), ("finally", 0)])
def test_a_crashed_client_runs_nothing_while_it_unwinds(
    make_scheduler: MakeScheduler, scenario: str, steps_taken: int
) -> None:
    s = make_scheduler(Unwinding, clients=1)
    h = s.reset()
    worker = parked(s, scenario, steps_taken)
    connections = connections_received(s)
    recorded = len(steps(h))
    s.crash_client("c0")
    assert worker.dead and live_workers() == []
    assert len(steps(h)) == recorded  # no ROLLBACK/UNWATCH/SET step of a dead process
    [op] = completes(h)
    assert op.type is Outcome.INFO and op.error == "client crashed"
    assert s.admin_redis.get("crh:k1") is None  # the finally's SET did not run
    assert connections_received(s) == connections, "the dead process reconnected to Redis"
    # its transaction was rolled back by the server (the connection closed): a reset
    # can rewrite the row without waiting for a lock
    s.reset()
    assert s.admin_db.execute(f"SELECT value FROM {TABLE}").fetchall() == [("k1.0",)]


@pytest.mark.parametrize(("scenario", "steps_taken"), [("tx", 2), ("watch", 1), ("finally", 0)])
@pytest.mark.parametrize("end", ["reset", "close"])
def test_reset_and_close_leave_no_worker_behind(
    make_scheduler: MakeScheduler, scenario: str, steps_taken: int, end: str
) -> None:
    s = make_scheduler(Unwinding, clients=1)
    s.reset()
    worker = parked(s, scenario, steps_taken)
    if end == "reset":
        s.reset()  # must not wait for the abandoned transaction's row lock
        s.start("c0", "read", scenario)  # and the process works again
        s.run_to_end("c0")
        assert completes(s.history)[-1].type is Outcome.OK
    else:
        s.close()
    assert worker.dead and live_workers() == []


def test_running_schedules_starts_no_thread(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=2)
    threads = threading.active_count()
    for _ in range(20):
        schedule.run(s, STALE_SET)
        assert threading.active_count() == threads
    # an operation left in flight at reset is abandoned, not left running
    s.reset()
    s.start("c0", "read", "k1")
    s.start("c1", "write", "k1", "k1.1")
    s.reset()
    assert live_workers() == [] and threading.active_count() == threads
    s.close()
    assert live_workers() == [] and threading.active_count() == threads
