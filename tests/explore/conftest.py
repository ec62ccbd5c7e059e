"""Fixtures for the explorers' tests: schedulers on the session's real servers
(the ``cacherace_backend`` fixture of the cacherace pytest plugin), closed after
each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from cacherace.engine.engine import Scheduler
from cacherace.explore import hygiene
from cacherace.servers import Backend, BackendUnavailable
from cacherace.strategies import Settings, Strategy
from cacherace.strategies.cache_aside import CacheAside

MakeScheduler = Callable[..., Scheduler]


def _servers(backend: Backend, persistence: str) -> tuple[Any, Any]:
    try:
        redis_server, pg = backend.redis(persistence), backend.postgres()
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))
    for server in (redis_server, pg):
        if server.can_crash and not server.alive:
            server.restart()  # a previous test crashed it and did not get to restart it
    return redis_server, pg


@pytest.fixture
def make_scheduler(cacherace_backend: Backend) -> Iterator[MakeScheduler]:
    """``make_scheduler(cls, clients=2, keys=("k1",), settings=None)``: a scheduler on
    the session's servers with the strategy's own Redis persistence."""
    made: list[Scheduler] = []

    def make(
        cls: type[Strategy] = CacheAside,
        *,
        clients: int = 2,
        keys: Sequence[str] = ("k1",),
        settings: Settings | None = None,
    ) -> Scheduler:
        redis_server, pg = _servers(cacherace_backend, cls.persistence)
        s = Scheduler(cls, redis_server, pg, clients=clients, keys=keys, settings=settings)
        made.append(s)
        return s

    yield make
    for s in made:
        hygiene.end_run(s)  # a transaction left open would hold up close()
        s.close()
