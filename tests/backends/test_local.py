"""Local-process servers: start, crash, restart, persistence. Real servers, no sleeps."""

from __future__ import annotations

import pytest
import redis

from cacherace.harness.backends import Backend, BackendError, open_backend


@pytest.fixture(scope="module")
def local() -> Backend:
    try:
        backend = open_backend("local")
    except BackendError as e:
        pytest.skip(str(e))
    yield backend
    backend.close()


def test_redis_none_loses_writes_on_crash(local: Backend) -> None:
    r = local.redis("none")
    c = r.client()
    c.set("k", "v")
    r.crash()
    assert not r.alive
    with pytest.raises(redis.ConnectionError):
        c.get("k")  # no retry: the dead server errors at once
    r.restart()
    assert r.client().get("k") is None


def test_redis_aof_always_keeps_acknowledged_writes(local: Backend) -> None:
    r = local.redis("aof-always")
    r.reset("")
    c = r.client()
    for i in range(50):
        c.set(f"k{i}", i)
    r.crash()
    r.restart()
    assert r.client().mget([f"k{i}" for i in range(50)]) == [str(i) for i in range(50)]


def test_postgres_committed_row_survives_crash(local: Backend) -> None:
    pg = local.postgres()
    with pg.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (k text PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES ('a', '1') ON CONFLICT (k) DO UPDATE SET v = '1'")
    port = pg.port
    pg.crash()
    assert not pg.alive
    pg.restart()
    assert pg.port == port
    with pg.connect() as conn:
        assert conn.execute("SELECT v FROM t WHERE k = 'a'").fetchone() == ("1",)
