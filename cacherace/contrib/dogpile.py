"""dogpile.cache: ``region.get_or_create`` on a ``dogpile.cache.redis`` region, with
``region.delete`` after the database write (the cache-aside of its documentation).

dogpile stamps each value with ``time.time()`` and, with ``distributed_lock=True``,
elects one creator per key with redis-py's ``Lock`` (SET NX, then ``time.sleep``
between tries): both run in virtual time here. With the lock off, it elects the
creator with a ``threading.Lock`` of the region, so it only protects clients that
share a region, as threads of one process would (:class:`DogpileSharedRegion`).

What the checks find (README, "What real libraries show"): the stale set of
cache-aside, because the creator's value is read before a concurrent write and
stored after that write's delete; with ``lock_timeout`` the lock can expire while
the value is built, and a second creator reads the database (``single-flight``);
with no ``lock_timeout``, a creator that crashed holding the lock leaves the others
waiting forever (``bounded-wait``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dogpile.cache import make_region
from dogpile.cache.api import NO_VALUE

from cacherace.contrib._connect import redis_options
from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Settings, Strategy


def _cache_some(value: Any) -> bool:
    return value is not None  # a missing row is not cached


def dogpile_region(redis: Any, settings: Settings, **arguments: Any) -> Any:
    """A region on the client's Redis, keys under the settings' prefix."""
    return make_region(key_mangler=settings.cache_key).configure(
        "dogpile.cache.redis",
        expiration_time=settings.ttl,
        arguments={
            **redis_options(redis),
            "redis_expiration_time": settings.ttl * 2,
            "lock_prefix": f"{settings.prefix}lock.",
            "thread_local_lock": False,
            **arguments,
        },
    )


class DogpileLocked(Strategy):
    """Distributed lock on, no lock timeout (dogpile's defaults but the lock)."""

    name: ClassVar[str] = "dogpile-locked"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "converges",
        "no-aborted-reads",
        "single-flight",
        "bounded-wait",
    )
    lock_arguments: ClassVar[dict[str, Any]] = {"distributed_lock": True}

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self.region = dogpile_region(redis, settings, **self.lock_arguments)

    def read(self, key: str) -> str | None:
        value = self.region.get_or_create(
            key, lambda: select_value(self.db, self.settings.table, key),
            should_cache_fn=_cache_some,
        )  # fmt: skip
        return None if value is NO_VALUE else value

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        self.region.delete(key)


class DogpileLockTimeout(DogpileLocked):
    """Distributed lock with ``lock_timeout``: the lock expires (in virtual time)
    if its holder takes longer, as when it is parked or crashed."""

    name: ClassVar[str] = "dogpile-lock-timeout"
    lock_arguments: ClassVar[dict[str, Any]] = {"distributed_lock": True, "lock_timeout": 5}


class DogpileUnlocked(DogpileLocked):
    """Distributed lock off and one region per client: each client is a process of
    its own, and the region's threading lock elects no single creator across them."""

    name: ClassVar[str] = "dogpile-unlocked"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "converges", "no-aborted-reads")
    lock_arguments: ClassVar[dict[str, Any]] = {"distributed_lock": False}


class DogpileSharedRegion(DogpileUnlocked):
    """Distributed lock off, one region shared by every client, as threads of one
    process share it: the region's ``threading.Lock`` elects one creator, and a
    client blocked on it waits while the creator is parked. The region's Redis pool
    is shared too; it belongs to the client that built the region first, so that
    client's crash disconnects the pool (the others reconnect on their next call),
    as a process whose threads share a pool would lose its sockets."""

    name: ClassVar[str] = "dogpile-shared-region"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "converges", "single-flight")
    _regions: ClassVar[dict[tuple[Any, ...], Any]] = {}

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        Strategy.__init__(self, redis, db, settings)
        where = (*redis_options(redis).values(), settings.prefix)
        if where not in self._regions:
            self._regions[where] = dogpile_region(redis, settings, **self.lock_arguments)
        self.region = self._regions[where]
