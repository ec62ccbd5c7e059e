"""Fixtures for the engine's tests: real servers from the ``cacherace_backend``
fixture (the cacherace pytest plugin) and schedulers that are closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from cacherace.engine.engine import Scheduler
from cacherace.servers import Backend, BackendUnavailable, PostgresServer, RedisServer
from cacherace.strategies import Settings, Strategy
from cacherace.strategies.cache_aside import CacheAside

PREFIX = "crh:"
TABLE = "cacherace_harness_tests"

MakeScheduler = Callable[..., Scheduler]


def _skip_unavailable(start: Callable[[], Any]) -> Any:
    try:
        return start()
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))


def _alive(server: Any) -> Any:
    if server.can_crash and not server.alive:
        server.restart()  # a previous test crashed it and did not get to restart it
    return server


@pytest.fixture(scope="session")
def redis_none(cacherace_backend: Backend) -> RedisServer:
    return _skip_unavailable(lambda: cacherace_backend.redis("none"))


@pytest.fixture(scope="session")
def redis_aof(cacherace_backend: Backend) -> RedisServer:
    return _skip_unavailable(lambda: cacherace_backend.redis("aof-always"))


@pytest.fixture(scope="session")
def pg(cacherace_backend: Backend) -> PostgresServer:
    return _skip_unavailable(cacherace_backend.postgres)


@pytest.fixture
def settings() -> Settings:
    return Settings(ttl=300, prefix=PREFIX, table=TABLE)


@pytest.fixture
def make_scheduler(
    redis_none: RedisServer, pg: PostgresServer, settings: Settings
) -> Iterator[MakeScheduler]:
    """``make_scheduler(cls, clients=2, keys=("k1",), redis_server=None)``: a scheduler
    on the session's servers (Redis without persistence unless given), closed at the
    end of the test."""
    made: list[Scheduler] = []

    def make(
        cls: type[Strategy] = CacheAside,
        *,
        clients: int = 2,
        keys: Sequence[str] = ("k1",),
        redis_server: RedisServer | None = None,
    ) -> Scheduler:
        s = Scheduler(
            cls,
            _alive(redis_server or redis_none),
            _alive(pg),
            clients=clients,
            keys=keys,
            settings=settings,
        )
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
