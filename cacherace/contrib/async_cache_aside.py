"""The catalog's cache-aside written async, as a FastAPI service would write it:
``redis.asyncio`` and psycopg's ``AsyncConnection``, ``async def read/write``.

The same calls as :class:`cacherace.strategies.cache_aside.CacheAside` (GET; on a
miss SELECT and SET with the TTL; UPSERT then DEL), so it has the same races: the
checks give it the same verdicts and the same shortest schedules, step for step.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar, TypeVar

from cacherace.strategies._common import CACHE_DOWN
from cacherace.strategies.cache_aside import CacheAside

T = TypeVar("T")


async def or_default(call: Awaitable[T], default: T) -> T:
    """Await one cache call; if the cache is down, ``default`` (as the sync form)."""
    try:
        return await call
    except CACHE_DOWN:
        return default


class AsyncCacheAside(CacheAside):
    name: ClassVar[str] = "cache-aside-async"

    async def read(self, key: str) -> str | None:  # type: ignore[override]
        ck = self.settings.cache_key(key)
        cached: Any = await or_default(self.redis.get(ck), None)
        if cached is not None:
            return str(cached)
        cur = await self.db.execute(
            f"SELECT value FROM {self.settings.table} WHERE key = %s", (key,)
        )
        row = await cur.fetchone()
        value = None if row is None else row[0]
        if value is not None:  # no negative caching, as the sync form
            await or_default(self.redis.set(ck, value, ex=self.settings.ttl), None)
        return value

    async def write(self, key: str, value: str) -> None:  # type: ignore[override]
        table = self.settings.table
        await self.db.execute(
            f"INSERT INTO {table} AS t (key, value, version) VALUES (%s, %s, 1) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = t.version + 1 "
            "RETURNING t.version",
            (key, value),
        )
        await or_default(self.redis.delete(self.settings.cache_key(key)), None)
