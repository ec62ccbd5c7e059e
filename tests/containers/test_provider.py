"""The container provider on real Docker: host network on loopback, crash = docker
kill, restart = docker start, persistence profiles, PostgreSQL as a non-root user,
and one-line errors for a missing image and a daemon that stops answering."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
import redis

from cacherace.servers import Backend, BackendError, BackendUnavailable, open_backend
from cacherace.servers.containers import ContainerRedis
from cacherace.servers.process import descendants

pytestmark = pytest.mark.containers


def _uid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # a backend that ended meanwhile
    return int(next(x for x in status.splitlines() if x.startswith("Uid:")).split()[1])


def test_servers_run_on_the_host_network_bound_to_loopback(container_backend: Backend) -> None:
    r = container_backend.redis("none")
    pg = container_backend.postgres()
    for server in (r, pg):
        assert server.host == "127.0.0.1"
        assert server.wrapped.attrs["HostConfig"]["NetworkMode"] == "host"
    assert r.client().config_get("bind") == {"bind": "127.0.0.1"}
    with pg.connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


def test_postgres_runs_as_a_non_root_user(container_backend: Backend) -> None:
    pg = container_backend.postgres()
    pg.wrapped.reload()
    main = int(pg.wrapped.attrs["State"]["Pid"])  # as this machine sees it
    uids = {_uid(pid) for pid in [main, *descendants(main)]} - {None}
    assert len(uids) == 1 and 0 not in uids, uids  # postmaster and every backend
    with pg.connect() as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


def test_redis_none_loses_writes_on_crash(container_backend: Backend) -> None:
    r = container_backend.redis("none")
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
def test_redis_aof_keeps_acknowledged_writes(container_backend: Backend, profile: str) -> None:
    r = container_backend.redis(profile)
    r.reset("")
    c = r.client()
    for i in range(50):
        c.set(f"k{i}", i)
    port = r.port
    r.crash()
    r.restart()
    assert r.port == port  # host network: the address survives a restart
    assert r.client().mget([f"k{i}" for i in range(50)]) == [str(i) for i in range(50)]


def test_postgres_committed_row_survives_crash_and_uncommitted_does_not(
    container_backend: Backend,
) -> None:
    pg = container_backend.postgres()
    with pg.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute("CREATE TABLE t (k text PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES ('committed')")
    open_tx = pg.connect(autocommit=False)
    open_tx.execute("INSERT INTO t VALUES ('uncommitted')")
    pg.crash()
    assert not pg.alive
    pg.restart()
    with pg.connect() as conn:
        assert conn.execute("SELECT k FROM t").fetchall() == [("committed",)]
    open_tx.close()


def test_missing_image_is_one_line_naming_the_fix(container_backend: Backend) -> None:
    with pytest.raises(BackendUnavailable) as err:
        open_backend("container", redis_image="cacherace/no-such-image:1")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("image cacherace/no-such-image:1 is not here and could not be pulled")
    assert "run `cacherace images build`" in msg


def test_a_daemon_that_stops_answering_is_one_line(container_backend: Backend) -> None:
    r = container_backend.redis("none")
    assert isinstance(r, ContainerRedis)
    wrapped = r.wrapped
    real = wrapped.client
    # The daemon's socket goes away under a running server (as when dockerd stops).
    wrapped.client = docker.DockerClient(
        base_url="unix:///nonexistent/docker.sock", version="1.41", timeout=2
    )
    try:
        with pytest.raises(BackendError) as err:
            r.crash()
    finally:
        wrapped.client = real
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("Docker failed to kill the redis container:")
    assert msg.endswith("check that the daemon still runs (docker info) and rerun")
    assert r.alive  # nothing happened to the server itself
