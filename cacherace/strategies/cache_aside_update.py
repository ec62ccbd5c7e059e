"""cache-aside-update: cache-aside with update-in-place invalidation.

Same read path as ``cache-aside``; a write UPSERTs the row and then SETs the new
value into the cache with the TTL ("option 2" of the article) instead of
deleting it. A cache that is down is treated as a miss / a skipped update.

Claims: the same as ``cache-aside`` (from the article): it is the article's
cache-aside with the article's other invalidation option, meant to keep the
cache fresh (``fresh-after-ack``, ``converges``) with the TTL as safety net
(``ttl-bounded``), surviving cache failure (``available-without-cache``) and
filling only from committed rows (``no-aborted-reads``). The article itself
warns: "If the DB write succeeds but the cache update races with a concurrent
read, you can end up with stale data" - the suite should show exactly that.
"""

from __future__ import annotations

from typing import ClassVar

from cacherace.strategies._common import or_default
from cacherace.strategies.cache_aside import CacheAside


class CacheAsideUpdate(CacheAside):
    name: ClassVar[str] = "cache-aside-update"

    def invalidate(self, key: str, value: str) -> None:
        """After the database write: overwrite the cached copy (one SET with TTL)."""
        ck = self.settings.cache_key(key)
        or_default(lambda: self.redis.set(ck, value, ex=self.settings.ttl), None)
