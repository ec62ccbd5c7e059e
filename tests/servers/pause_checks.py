"""Hang faults on real servers, shared by every provider's tests: pause() freezes the
server (its connections stay open), resume() lets it go on. Measured here, and
modelled by the engine: a request that reached the server before its client gave
up still takes effect when the server resumes (Redis runs the command; PostgreSQL
runs an autocommit statement or a COMMIT, and rolls back a transaction left open).
"""

from __future__ import annotations

import socket
import time

import psycopg
import pytest
import redis

from cacherace.servers import Backend, PostgresServer


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


def _others_gone(pg: PostgresServer) -> None:
    """Wait until the backends of closed connections finished what they had read."""
    deadline = time.monotonic() + 30
    with pg.connect() as conn:
        q = ("SELECT count(*) FROM pg_stat_activity "
             "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")  # fmt: skip
        while (row := conn.execute(q).fetchone()) and row[0] > 0:
            assert time.monotonic() < deadline, "a closed connection's backend never ended"
            time.sleep(0.002)


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
