"""Strategies written for the explorers' tests (the catalog has none like them)."""

from __future__ import annotations

from typing import Any, ClassVar

from cacherace.strategies._common import or_default, select_value, upsert
from cacherace.strategies.cache_aside import CacheAside


class CacheAsideNoTTL(CacheAside):
    """cache-aside whose fill has no TTL: its stale set is never repaired, so
    ttl-bounded breaks by concurrency alone (5 steps), with no fault needed."""

    name: ClassVar[str] = "cache-aside-no-ttl"
    claims: ClassVar[tuple[str, ...]] = ("ttl-bounded",)

    def read(self, key: str) -> str | None:
        ck = self.settings.cache_key(key)
        cached = or_default(lambda: self.redis.get(ck), None)
        if cached is not None:
            return str(cached)
        value = select_value(self.db, self.settings.table, key)
        if value is not None:
            or_default(lambda: self.redis.set(ck, value), None)
        return value


class RefreshOnWrite(CacheAside):
    """The write reads the row back and refreshes the cache with what it read:
    breaks converges by concurrency alone when two writes cross (6 steps), a
    race random search with few examples tends to miss."""

    name: ClassVar[str] = "refresh-on-write"
    claims: ClassVar[tuple[str, ...]] = ("converges",)

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        fresh = select_value(self.db, self.settings.table, key)
        ck = self.settings.cache_key(key)
        or_default(lambda: self.redis.set(ck, fresh, ex=self.settings.ttl), None)


class Boom(BaseException):
    """Not an Exception: escapes the engine's operation handler."""


class BrokenThenBoom(CacheAside):
    """Reads return a value no write wrote (fresh-after-ack breaks at once);
    writes raise something that is not an Exception (a harness failure)."""

    name: ClassVar[str] = "broken-then-boom"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "no-aborted-reads")

    def read(self, key: str) -> str | None:
        or_default(lambda: self.redis.get(self.settings.cache_key(key)), None)
        return "nope"

    def write(self, key: str, value: str) -> None:
        self.redis.get(self.settings.cache_key(key))
        raise Boom("the write blew up")


class LeavesTransactionOpen(CacheAside):
    """Its write opens a transaction and never ends it: the row lock stays held."""

    name: ClassVar[str] = "leaves-transaction-open"
    claims: ClassVar[tuple[str, ...]] = ("no-aborted-reads",)

    def write(self, key: str, value: str) -> None:
        self.db.execute("BEGIN")
        upsert(self.db, self.settings.table, key, value)
        or_default(lambda: self.redis.delete(self.settings.cache_key(key)), None)


class GeneratorCache(CacheAside):
    """A read that yields its value: the harness cannot drive it (async def it can)."""

    name: ClassVar[str] = "generator-cache"

    def read(self, key: str) -> Any:  # type: ignore[override]
        yield None


class NoDriver(CacheAside):
    """Never calls Redis or PostgreSQL: nothing a claim could check."""

    name: ClassVar[str] = "no-driver"
    claims: ClassVar[tuple[str, ...]] = ("converges",)
    _store: ClassVar[dict[str, str]] = {}

    def read(self, key: str) -> str | None:
        return f"{key}.0"

    def write(self, key: str, value: str) -> None:
        return None
