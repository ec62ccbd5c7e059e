"""read-through: the application talks only to a cache layer that loads on a miss.

:class:`ReadThroughCache` is the small library an application would use: it is
given a loader (here: one SELECT) and fills the cache with the TTL on a miss.
The application reads through it; it writes the database (one UPSERT) and then
asks the layer to invalidate the key (one DEL). The layer does not hide cache
failures: the article's read-through puts the cache in front of everything
("From the app's perspective, the cache is the only thing it sees"), so a cache
that is down makes reads and write acknowledgements fail.

Claims, from the article: read-through is cache-aside centralised ("In practice,
cache-aside wrapped in a helper function ends up looking like read-through
anyway"), with the same delete-on-write invalidation and TTL, so it asserts
cache-aside's freshness claims - ``fresh-after-ack``, ``ttl-bounded``,
``converges``, ``no-aborted-reads`` - but not ``available-without-cache``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Settings, Strategy


class ReadThroughCache:
    """A cache that fetches from its loader on a miss (redis-py underneath)."""

    def __init__(
        self,
        redis: Any,
        loader: Callable[[str], str | None],
        ttl: int,
        cache_key: Callable[[str], str],
    ) -> None:
        self._redis = redis
        self._loader = loader
        self._ttl = ttl
        self._cache_key = cache_key

    def get(self, key: str) -> str | None:
        ck = self._cache_key(key)
        cached = self._redis.get(ck)
        if cached is not None:
            return str(cached)
        value = self._loader(key)
        if value is not None:  # absent rows are not cached
            self._redis.set(ck, value, ex=self._ttl)
        return value

    def invalidate(self, key: str) -> None:
        self._redis.delete(self._cache_key(key))


class ReadThrough(Strategy):
    name: ClassVar[str] = "read-through"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "ttl-bounded",
        "converges",
        "no-aborted-reads",
    )

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self.cache = ReadThroughCache(
            redis,
            loader=lambda key: select_value(db, settings.table, key),
            ttl=settings.ttl,
            cache_key=settings.cache_key,
        )

    def read(self, key: str) -> str | None:
        return self.cache.get(key)

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        self.cache.invalidate(key)
