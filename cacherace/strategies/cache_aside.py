"""cache-aside: the article's read path with delete-on-write invalidation.

Read: GET the cache key; on a miss SELECT the row and SET it back with the TTL.
Write: UPSERT the row, then DEL the cache key ("option 1" of the article).
A cache that is down is treated as a miss / a skipped delete.

Claims, all from the article (seed/cache-strategies-article.txt):

- ``fresh-after-ack``: delete-on-write is "safer" and "Deleting forces the next
  reader to refetch" - once a write is acknowledged, reads see it.
- ``ttl-bounded``: "cache-aside with delete-on-write + a TTL safety net. The TTL
  catches anything you forget to invalidate."
- ``converges``: with invalidation on every write, the cache ends up agreeing
  with the database.
- ``available-without-cache``: "cache failure doesn't take down the app".
- ``no-aborted-reads``: the cache is only ever filled from committed rows.
"""

from __future__ import annotations

from typing import ClassVar

from cacherace.strategies._common import or_default, select_value, upsert
from cacherace.strategies.base import Strategy


class CacheAside(Strategy):
    name: ClassVar[str] = "cache-aside"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "ttl-bounded",
        "converges",
        "available-without-cache",
        "no-aborted-reads",
    )

    def read(self, key: str) -> str | None:
        ck = self.settings.cache_key(key)
        cached = or_default(lambda: self.redis.get(ck), None)
        if cached is not None:
            return str(cached)
        value = select_value(self.db, self.settings.table, key)
        if value is not None:  # no negative caching: a missing row is not cached
            or_default(lambda: self.redis.set(ck, value, ex=self.settings.ttl), None)
        return value

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        self.invalidate(key, value)

    def invalidate(self, key: str, value: str) -> None:
        """After the database write: drop the cached copy (one DEL)."""
        or_default(lambda: self.redis.delete(self.settings.cache_key(key)), None)
