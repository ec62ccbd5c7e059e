"""A client crash between the writer's UPSERT and its DELETE (acceptance)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import redis

from cacherace.model.history import EndState, Fault, Outcome, Step

from .conftest import MakeScheduler
from .helpers import after, completes, of, steps


def eventually(check: Callable[[], bool], attempts: int = 2_000) -> bool:
    """Poll the servers (no sleeping): a closed socket reaches the server
    asynchronously, a few round trips after the client closed it."""
    return any(check() for _ in range(attempts))


def backend_alive(admin: psycopg.Connection, pid: int) -> bool:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row[0] > 0


def redis_client_alive(admin: redis.Redis, client_id: int) -> bool:
    return any(int(c["id"]) == client_id for c in admin.client_list())


def test_crash_between_upsert_and_delete_leaves_the_cache_stale(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(clients=2)
    h = s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")  # fills the cache with k1.0
    s.start("c1", "write", "k1", "k1.1")  # parked at its UPSERT
    c1 = s.processes["c1"]
    pid, client_id = c1.db.info.backend_pid, c1.redis.client_id()  # unscheduled calls
    worker = c1.worker
    assert worker is not None
    s.step("c1")  # the UPSERT runs; c1 is parked at its DEL
    assert c1.pending is not None and c1.pending.command == "DEL crh:k1"
    db_conn = c1.db

    assert s.crash_client("c1")

    [fault] = of(h, Fault)
    assert (fault.fault, fault.process, fault.detail) == ("client-crash", "c1", "at DEL crh:k1")
    [write] = completes(h, "c1")
    assert write.type is Outcome.INFO and write.f == "write" and write.index == fault.index + 1
    assert worker.dead and not s.busy("c1") and not s.step("c1")
    assert db_conn.closed
    # the server side: the crashed process's connections are gone
    assert eventually(lambda: not backend_alive(s.admin_db, pid)), "PostgreSQL backend lives on"
    assert eventually(lambda: not redis_client_alive(s.admin_redis, client_id)), (
        "the crashed client's Redis connection is still open"
    )

    end = s.settle()
    assert isinstance(end, EndState) and end.settled
    assert end.cache == {"k1": "k1.0"} and end.db == {"k1": "k1.1"}  # stale for good
    # nothing of the crashed operation ran again: its DEL never happened
    assert [e.command for e in steps(h, "c1")] == [steps(h, "c1")[0].command]
    assert not [e for e in after(h, fault) if isinstance(e, Step)]
    assert s.admin_redis.get("crh:k1") == "k1.0"

    # the process restarts for its next operation, with new connections
    s.start("c1", "read", "k1")
    s.run_to_end("c1")
    assert s.processes["c1"].db.info.backend_pid != pid
    assert completes(h, "c1")[-1].value == "k1.0"
