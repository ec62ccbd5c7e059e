"""Hang faults on real servers, shared by every provider's tests: pause() freezes the
server (its connections stay open), resume() lets it go on. Measured here, and
modelled by the engine: a request that reached the server before its client gave
up still takes effect when the server resumes (Redis runs the command; PostgreSQL
runs an autocommit statement or a COMMIT, and rolls back a transaction left open).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest
import redis

from cacherace.servers import Backend, PostgresServer
from tests.waits import wait_exited


def redis_request_given_up_takes_effect_on_resume(backend: Backend) -> None:
    r = backend.redis("none")
    r.reset("")
    r.client().set("k", "old")
    timing_out = r.client(socket_timeout=0.05)
    timing_out.ping()  # connected before the pause: its request reaches the server
    gave_up = socket.create_connection((r.host, r.port))
    r.pause()
    assert r.paused
    with pytest.raises(redis.TimeoutError):
        timing_out.set("k", "timed-out")  # the driver's own timeout error
    gave_up.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nnew\r\n")
    gave_up.close()  # its client gives up before the server answers
    r.resume()
    assert not r.paused
    fresh = r.client()
    assert fresh.get("k") == "new"  # both ran, in the order they arrived
    assert fresh.ping()


def _postmaster(pg: PostgresServer) -> int:
    """The postmaster's pid on this machine."""
    pid = getattr(pg, "pid", None)  # a process server
    if pid is None:  # a container: the postmaster is its first process
        container = pg.wrapped  # type: ignore[attr-defined]
        container.reload()
        pid = container.attrs["State"]["Pid"]
    return int(pid)


def _host_pids(pg: PostgresServer, backends: list[int]) -> list[int]:
    """The postmaster's children that are these backends, by this machine's pids: a
    container's PostgreSQL reports its own pid namespace's numbers (NSpid's last)."""
    postmaster, found = _postmaster(pg), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["PPid"]) == postmaster and int(fields["NSpid"].split()[-1]) in backends:
            found.append(int(entry))
    return found


def _others_gone(pg: PostgresServer) -> None:
    """Wait until the backends of closed connections finished what they had read."""
    with pg.connect() as conn:
        q = ("SELECT pid FROM pg_stat_activity "
             "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")  # fmt: skip
        others = [pid for (pid,) in conn.execute(q).fetchall()]
        # their exits are asynchronous: wait on them (pidfds), then look again
        wait_exited(_host_pids(pg, others), timeout=30)
        left = conn.execute(q).fetchall()
        assert not left, f"a closed connection's backend never ended: {left}"


def _give_up(pg: PostgresServer, before: list[str], sql: str) -> None:
    conn = pg.connect()
    for s in before:
        conn.execute(s)
    pg.pause()
    conn.pgconn.send_query(sql.encode())
    conn.pgconn.flush()
    conn.close()  # the client gives up while the server is frozen
    pg.resume()


def postgres_requests_given_up_take_effect_on_resume(backend: Backend) -> None:
    pg = backend.postgres()
    with pg.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS hang")
        conn.execute("CREATE TABLE hang (k text PRIMARY KEY, v text)")
        conn.execute("INSERT INTO hang VALUES ('a', 'old'), ('b', 'old'), ('c', 'old')")
    _give_up(pg, [], "UPDATE hang SET v = 'autocommit' WHERE k = 'a'")
    _give_up(pg, ["BEGIN", "UPDATE hang SET v = 'committed' WHERE k = 'b'"], "COMMIT")
    _give_up(pg, ["BEGIN"], "UPDATE hang SET v = 'left-open' WHERE k = 'c'")
    _others_gone(pg)
    with pg.connect() as conn:
        rows = conn.execute("SELECT k, v FROM hang ORDER BY k").fetchall()
    assert rows == [("a", "autocommit"), ("b", "committed"), ("c", "old")]


def a_paused_server_can_crash_and_restart(backend: Backend) -> None:
    pg = backend.postgres()
    held = pg.connect()
    pg.pause()
    pg.crash()  # SIGKILL / docker kill reach frozen processes too
    assert not pg.alive and not pg.paused
    with pytest.raises(psycopg.OperationalError):
        held.execute("SELECT 1")
    pg.restart()
    with pg.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
