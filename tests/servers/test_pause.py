"""Hang faults on process servers: SIGSTOP of the server and every backend it forked
(PostgreSQL's backends left its process group), SIGCONT to resume."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cacherace.servers import Backend, BackendUnavailable, CrashUnsupported, open_backend
from cacherace.servers.process import _proc_stat, descendants

from . import pause_checks


@pytest.fixture(scope="module", params=["local", "embedded"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    try:
        b = open_backend(request.param)
    except BackendUnavailable as e:
        pytest.skip(f"{request.param}: {e}")
    yield b
    b.close()


def test_pause_stops_the_postmaster_and_every_backend(backend: Backend) -> None:
    pg = backend.postgres()
    held = [pg.connect() for _ in range(2)]  # backends outside the postmaster's group
    tree = [pg.pid, *descendants(pg.pid)]  # type: ignore[attr-defined]
    assert len(tree) >= 4  # postmaster, helpers, and our two backends
    pg.pause()
    try:
        states = {pid: st[0] for pid in tree if (st := _proc_stat(pid)) is not None}
        assert set(states.values()) == {"T"}, states
    finally:
        pg.resume()
    assert all(c.execute("SELECT 1").fetchone() == (1,) for c in held)
    for c in held:
        c.close()


def test_a_redis_request_given_up_takes_effect_on_resume(backend: Backend) -> None:
    pause_checks.redis_request_given_up_takes_effect_on_resume(backend)


def test_postgres_requests_given_up_take_effect_on_resume(backend: Backend) -> None:
    pause_checks.postgres_requests_given_up_take_effect_on_resume(backend)


def test_a_paused_server_can_crash_and_restart(backend: Backend) -> None:
    pause_checks.a_paused_server_can_crash_and_restart(backend)


def test_url_servers_cannot_be_paused(backend: Backend) -> None:
    url = f"redis://127.0.0.1:{backend.redis('none').port}/0"
    with (
        open_backend("url", redis_url=url, allow_destructive=True) as shared,
        pytest.raises(CrashUnsupported, match="pause asked of a url server"),
    ):
        shared.redis("none").pause()
