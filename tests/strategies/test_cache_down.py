"""What each strategy does when Redis is unreachable (a client of a closed port)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cacherace.strategies import CATALOG, Settings, Strategy

SURVIVES = [c for c in CATALOG.values() if "available-without-cache" in c.claims]
NEEDS_CACHE = [c for c in CATALOG.values() if "available-without-cache" not in c.claims]


@pytest.fixture
def dead_redis() -> Iterator[redis.Redis]:
    """A client of a port nobody listens on: every call fails at once (refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis.Redis(
        port=port, decode_responses=True, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    yield client
    client.close()


@pytest.mark.parametrize("cls", SURVIVES, ids=[c.name for c in SURVIVES])
def test_falls_back_to_the_database(
    cls: type[Strategy],
    make: Callable[..., Strategy],
    dead_redis: redis.Redis,
    db: Any,
    settings: Settings,
) -> None:
    s = make(cls, initial={"k": "v0"}, redis=dead_redis)
    assert s.read("k") == "v0"
    s.write("k", "v1")  # the database write happens; the invalidation is skipped
    assert cls.peek_database(db, settings, ["k"]) == {"k": "v1"}
    assert s.read("k") == "v1"
    assert s.read("absent") is None


@pytest.mark.parametrize("cls", NEEDS_CACHE, ids=[c.name for c in NEEDS_CACHE])
def test_cache_errors_propagate(
    cls: type[Strategy], make: Callable[..., Strategy], dead_redis: redis.Redis
) -> None:
    s = make(cls, initial={"k": "v0"}, redis=dead_redis)
    with pytest.raises(redis.exceptions.ConnectionError):
        s.read("k")
    with pytest.raises(redis.exceptions.ConnectionError):
        s.write("k", "v1")
