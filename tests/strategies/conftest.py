"""Fixtures for the strategy tests: real servers from the ``cacherace_backend``
fixture (the cacherace pytest plugin), state reset before every test, and a
clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cacherace.servers import Backend, BackendUnavailable, PostgresServer, RedisServer
from cacherace.strategies import CATALOG, Settings, Strategy

PREFIX = "crtest:"
TABLE = "cacherace_strategy_tests"


class FakeClock:
    """Virtual time for the tests: moves only when the test says so."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _skip_unavailable(start: Callable[[], Any]) -> Any:
    try:
        return start()
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))


@pytest.fixture(scope="session")
def redis_server(cacherace_backend: Backend) -> RedisServer:
    return _skip_unavailable(lambda: cacherace_backend.redis("none"))


@pytest.fixture(scope="session")
def pg_server(cacherace_backend: Backend) -> PostgresServer:
    return _skip_unavailable(cacherace_backend.postgres)


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[Any]:
    """A client of an empty cache (the suite's prefix reset)."""
    redis_server.reset(PREFIX)
    with redis_server.client() as client:
        yield client


@pytest.fixture(scope="session")
def _db_session(pg_server: PostgresServer) -> Iterator[Any]:
    with pg_server.connect(autocommit=True) as conn:
        for cls in CATALOG.values():  # idempotent; the union of every catalog schema
            cls.create_schema(conn, Settings(table=TABLE))
        yield conn


@pytest.fixture
def db(_db_session: Any) -> Any:
    """An autocommit connection to a database whose catalog table is empty."""
    Strategy.reset(_db_session, Settings(table=TABLE), {})
    return _db_session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(clock: FakeClock) -> Settings:
    return Settings(ttl=300, prefix=PREFIX, table=TABLE, clock=clock, delay=1.0)


@pytest.fixture
def make(redis_client: Any, db: Any, settings: Settings) -> Callable[..., Strategy]:
    """``make(cls, initial={...}, redis=None)``: the database reset to ``initial``
    and a new instance (another client) of ``cls`` on the test's connections."""

    def build(
        cls: type[Strategy], initial: dict[str, str] | None = None, redis: Any = None
    ) -> Strategy:
        if initial is not None:
            cls.reset(db, settings, initial)
        return cls(redis if redis is not None else redis_client, db, settings)

    return build


@pytest.fixture
def drain(clock: FakeClock, settings: Settings) -> Callable[[Strategy], None]:
    """``drain(strategy)``: let background work finish - time past every delay,
    then each actor until it reports no work."""

    def run(strategy: Strategy) -> None:
        clock.advance(settings.delay + 1)
        for actor in strategy.actors:
            while getattr(strategy, actor)():
                pass

    return run
