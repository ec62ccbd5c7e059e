"""cashews: ``@cache`` on its Redis backend in front of an async PostgreSQL read,
with ``cache.delete`` after the database write - the usage of cashews' README, in
an async service on ``redis.asyncio`` and psycopg's ``AsyncConnection``.

Each client is an application process with its own ``Cache`` (``cache.setup`` on
the client's Redis, so its own ``redis.asyncio`` pool) and its own decorated
function; keys are the settings' prefix and the item key. cashews' defaults are
kept: pickled values, ``suppress=True`` (a cache call that fails is a miss),
``protected=True`` (the call runs as a task of its own, shared by concurrent
callers in the process).

- :class:`CashewsCache`: ``@cache(ttl=...)``.
- :class:`CashewsEarly`: ``@cache.early(ttl=..., early_ttl=...)``: an entry older
  than ``early_ttl`` is still served, but the first reader to take its ``:lock``
  key (``SET NX``) recomputes it in a task it does not await (fire-and-forget),
  which runs as the client's background actor ``cN.bg``.
- :class:`CashewsLocked`: ``@cache(ttl=..., lock=True)``: before the cache is
  read, the key's lock is taken (``SET NX PX`` with the TTL); a caller that finds
  it taken ``PING``\\ s Redis (to tell a held lock from a cache that is down) and
  tries again after ``asyncio.sleep(0)``, until the holder's ``UNLOCK`` script.

What the checks find (README, "What real libraries show"): the stale set of
cache-aside in all three, as aiocache's #95: the lock elects one filler but does
not order it after a concurrent write's delete, and the early refresh reads the row
before a write and stores it after the write's delete, for a whole TTL.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from cashews import Cache

from cacherace.contrib._connect import redis_options
from cacherace.contrib._rows import select_value, upsert
from cacherace.strategies.base import Settings, Strategy

# cashews logs each cache call that failed (a miss, with suppress=True) at ERROR with
# its traceback; an application configures logging, the recipe keeps them quiet
logging.getLogger("cashews").addHandler(logging.NullHandler())


def cashews_cache(redis: Any, settings: Settings) -> Cache:
    """A ``Cache`` on the client's Redis (cashews builds its own client from a URL)."""
    where = redis_options(redis)
    auth = f":{where['password']}@" if where.get("password") else ""
    cache = Cache()
    cache.setup(f"redis://{auth}{where['host']}:{where['port']}/{where['db']}")
    return cache


class CashewsCache(Strategy):
    name: ClassVar[str] = "cashews-cache"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "converges", "no-aborted-reads")
    lock: ClassVar[bool] = False

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self.cache = cashews_cache(redis, settings)
        self.key = settings.prefix + "{key}"
        self.load = self.cache(ttl=settings.ttl, key=self.key, lock=self.lock,
                               condition="not_none")(self._select)  # fmt: skip

    async def _select(self, key: str) -> str | None:
        return await select_value(self.db, self.settings.table, key)

    async def read(self, key: str) -> str | None:  # type: ignore[override]
        return await self.load(key)

    async def write(self, key: str, value: str) -> None:  # type: ignore[override]
        await upsert(self.db, self.settings.table, key, value)
        await self.cache.delete(self.settings.cache_key(key))


class CashewsLocked(CashewsCache):
    """``lock=True``: one filler per key at a time; the lock's TTL is the cache's."""

    name: ClassVar[str] = "cashews-locked"
    claims: ClassVar[tuple[str, ...]] = (*CashewsCache.claims, "single-flight", "bounded-wait")
    lock: ClassVar[bool] = True


class CashewsEarly(CashewsCache):
    """``@cache.early``: entries are recomputed in the background once older than
    ``early_ttl`` (cashews' default is a third of the TTL)."""

    name: ClassVar[str] = "cashews-early"
    background: ClassVar[bool] = True  # the refresh task outlives the read
    early_ttl: ClassVar[float] = 100.0
    #: the systematic search's time advances include one just past this
    lease_seconds: ClassVar[float] = early_ttl

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        Strategy.__init__(self, redis, db, settings)
        self.cache = cashews_cache(redis, settings)
        self.load = self.cache.early(ttl=settings.ttl, early_ttl=self.early_ttl,
                                     key=settings.prefix + "{key}",
                                     condition="not_none")(self._select)  # fmt: skip

    async def write(self, key: str, value: str) -> None:  # type: ignore[override]
        await upsert(self.db, self.settings.table, key, value)
        await self.cache.delete(f"early:v2:{self.settings.cache_key(key)}")
