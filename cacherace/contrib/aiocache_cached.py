"""aiocache: ``@cached`` on its Redis backend (``Cache.REDIS``) in front of an async
PostgreSQL read, with ``cache.delete`` after the database write - the usage of
aiocache's documentation, in an async service on ``redis.asyncio`` and psycopg's
``AsyncConnection``.

Each client is an application process with its own decorated function (aiocache
builds one cache, with its own ``redis.asyncio`` pool, per decoration), keys under
the settings' prefix as aiocache's namespace. aiocache's defaults are kept: a 5 s
timeout around each cache call (``asyncio.wait_for``, so in virtual time here),
JSON values, and the write awaited (``aiocache_wait_for_write=True``).

What the checks find (aiocache #95, "Race condition in @cached"): the stale set.
The decorated call misses, reads the row, a write commits and deletes the key,
and the call then stores what it read before the write.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiocache import Cache, cached

from cacherace.contrib._connect import redis_options
from cacherace.contrib._rows import select_value, upsert
from cacherace.strategies.base import Settings, Strategy


def namespace(settings: Settings) -> str:
    """aiocache's Redis backend joins namespace and key with ``:``."""
    return settings.prefix[:-1] if settings.prefix.endswith(":") else settings.prefix


class AiocacheCached(Strategy):
    name: ClassVar[str] = "aiocache-cached"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "converges", "no-aborted-reads")

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        where = redis_options(redis)
        self.load = cached(
            ttl=settings.ttl,
            cache=Cache.REDIS,
            endpoint=where["host"],
            port=where["port"],
            db=where["db"],
            password=where.get("password"),
            namespace=namespace(settings),
            key_builder=lambda f, key: key,
            skip_cache_func=lambda value: value is None,  # a missing row is not cached
        )(self._select)

    async def _select(self, key: str) -> str | None:
        return await select_value(self.db, self.settings.table, key)

    async def read(self, key: str) -> str | None:  # type: ignore[override]
        return await self.load(key)

    async def write(self, key: str, value: str) -> None:  # type: ignore[override]
        await upsert(self.db, self.settings.table, key, value)
        await self.load.cache.delete(key)
