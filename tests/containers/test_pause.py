"""Hang faults on containers: docker pause (the cgroup freezer) and unpause, with the
same measured semantics as process servers (tests/servers/pause_checks.py)."""

from __future__ import annotations

import pytest

from cacherace.servers import Backend
from tests.servers import pause_checks

pytestmark = pytest.mark.containers


def test_pause_freezes_the_container(container_backend: Backend) -> None:
    r = container_backend.redis("none")
    r.pause()
    try:
        r.wrapped.reload()
        assert r.wrapped.attrs["State"]["Paused"] is True
        assert r.alive and r.paused
    finally:
        r.resume()
    assert r.client().ping()


def test_a_redis_request_given_up_takes_effect_on_resume(container_backend: Backend) -> None:
    pause_checks.redis_request_given_up_takes_effect_on_resume(container_backend)


def test_postgres_requests_given_up_take_effect_on_resume(container_backend: Backend) -> None:
    pause_checks.postgres_requests_given_up_take_effect_on_resume(container_backend)


def test_a_paused_server_can_crash_and_restart(container_backend: Backend) -> None:
    pause_checks.a_paused_server_can_crash_and_restart(container_backend)


def test_the_hang_trace_replays_on_containers(container_backend: Backend) -> None:
    """The engine's hang model on docker pause/unpause: the trace whose cache hangs
    mid-write (a client timeout, the given-up SET run at resume) replays exactly."""
    from cacherace.explore.replay import replay_trace
    from cacherace.report.trace import load
    from tests.engine.test_hangs import HANG_TRACE

    runs = 2
    results = [replay_trace(load(HANG_TRACE), container_backend) for _ in range(runs)]
    assert sum(r.same_history and r.verdict.broken for r in results) == runs
