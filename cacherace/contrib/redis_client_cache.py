"""redis-py's client-side caching: cache-aside through a ``redis.Redis(protocol=3,
cache_config=CacheConfig())`` client, as redis-py's documentation sets it up.

The client keeps GET replies in process memory and turns ``CLIENT TRACKING ON``;
Redis pushes an ``invalidate`` message when a key the connection read changes,
and redis-py applies the pushes it finds on the socket before its next command.
A local hit sends nothing, so it is fresh only if the push has already arrived:
the harness makes that arrival a schedule choice (``deliver``, see
:mod:`cacherace.engine.observers.invalidations`).

Two recipes. :class:`RedisClientSideCache` is plain cache-aside on such a
client: it breaks where cache-aside breaks (the stale set). :class:`LeasesClientSideCache`
puts the client in front of the catalog's ``cache-aside-leases``, whose
``fresh-after-ack`` holds without it: with it, a read right after another
client's acknowledged write is served the old value from the local copy while
the invalidation is in flight (by concurrency alone, with every operation
sequential). A client's own write invalidates its own copy in the same reply
stream, so ``read-your-writes`` holds there. Client-side caching needs Redis 7.4
or newer: the embedded provider's Redis 8.2 (``--backend embedded``) or a
container image of one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import redis
from redis.cache import CacheConfig

from cacherace.contrib._connect import redis_options
from cacherace.errors import BackendError
from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Settings, Strategy
from cacherace.strategies.cache_aside_leases import CacheAsideLeases

MIN_VERSION = (7, 4)


_versions: dict[tuple[Any, ...], str] = {}  # asked once per server, not once per run


def _version(client: Any) -> str:
    where = tuple(redis_options(client).values())
    if where not in _versions:
        _versions[where] = str(client.info("server")["redis_version"])
    return _versions[where]


def client_side_cache(client: Any) -> redis.Redis:
    """A RESP3 client with redis-py's client-side cache, to ``client``'s server."""
    found = _version(client)
    if tuple(int(p) for p in found.split(".")[:2] if p.isdigit()) < MIN_VERSION:
        raise BackendError(
            f"redis-py's client-side caching needs Redis 7.4 or newer; this server is"
            f" Redis {found}. Use --backend embedded (pip install 'cacherace[embedded]',"
            " Redis 8.2) or --backend container with a Redis 7.4+ image"
        )
    return redis.Redis(**redis_options(client), protocol=3, cache_config=CacheConfig(),
                       decode_responses=True)  # fmt: skip


class RedisClientSideCache(Strategy):
    """Cache-aside (delete on write) on a client with redis-py's local cache."""

    name: ClassVar[str] = "redis-client-side-cache"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "read-your-writes", "converges")

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self.local = client_side_cache(redis)

    def read(self, key: str) -> str | None:
        name = self.settings.cache_key(key)
        value = self.local.get(name)  # a local hit, or a GET whose reply is kept
        if value is not None:
            return str(value)
        value = select_value(self.db, self.settings.table, key)
        if value is not None:
            self.local.set(name, value, ex=self.settings.ttl)
        return value

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        self.local.delete(self.settings.cache_key(key))


class LeasesClientSideCache(CacheAsideLeases):
    """The catalog's cache-aside with leases, every command on one client with
    redis-py's local cache: a read asks the local cache first (a GET), then runs
    the lease protocol (its scripts are never cached locally)."""

    name: ClassVar[str] = "leases-client-side-cache"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "read-your-writes")

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(client_side_cache(redis), db, settings)

    def read(self, key: str) -> str | None:
        value = self.redis.get(self.settings.cache_key(key))
        return str(value) if value is not None else super().read(key)
