"""Small pieces the catalog's strategies share: the row SQL and cache-error fallback.

Every helper is one driver call, so a strategy built from them has exactly the
steps it appears to have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import redis.exceptions

from cacherace.strategies.base import Strategy

T = TypeVar("T")

#: What "the cache is unreachable" looks like from redis-py. Cache-aside style
#: strategies treat these as a miss (reads) or a skipped invalidation (writes).
CACHE_DOWN: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def select_value(db: Any, table: str, key: str) -> str | None:
    """One SELECT: the committed value of ``key`` (None: no row)."""
    row = db.execute(f"SELECT value FROM {table} WHERE key = %s", (key,)).fetchone()
    return None if row is None else row[0]


def select_versioned(db: Any, table: str, key: str) -> tuple[str, int] | None:
    """One SELECT: ``(value, version)`` of ``key`` (None: no row)."""
    row = db.execute(f"SELECT value, version FROM {table} WHERE key = %s", (key,)).fetchone()
    return None if row is None else (row[0], int(row[1]))


def upsert(db: Any, table: str, key: str, value: str) -> int:
    """One autocommit statement: store ``value`` and bump the version; returns it.

    A single UPSERT holds the row lock only for the statement, so a client parked
    after it never blocks another client's write.
    """
    row = db.execute(
        f"INSERT INTO {table} AS t (key, value, version) VALUES (%s, %s, 1) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = t.version + 1 "
        "RETURNING t.version",
        (key, value),
    ).fetchone()
    return int(row[0])


def or_default(call: Callable[[], T], default: T) -> T:
    """Run one cache call; if the cache is down, return ``default`` instead.

    This is the article's "cache failure doesn't take down the app": a read
    falls through to the database, a failed invalidation is swallowed (and the
    stale entry it leaves behind is exactly what ``converges`` checks).
    """
    try:
        return call()
    except CACHE_DOWN:
        return default


class FillOnMiss(Strategy):
    """The read path the write-through and write-behind strategies share: GET; on a
    miss SELECT and fill the cache with the TTL. Cache errors propagate (these
    strategies have the cache in their write path, so they do not claim to work
    without it)."""

    #: fill with SET NX: a fill never replaces a value a concurrent write put there
    fill_only_if_absent: ClassVar[bool] = False

    def read(self, key: str) -> str | None:
        ck = self.settings.cache_key(key)
        cached = self.redis.get(ck)
        if cached is not None:
            return str(cached)
        value = select_value(self.db, self.settings.table, key)
        if value is not None:
            self.redis.set(ck, value, ex=self.settings.ttl, nx=self.fill_only_if_absent)
        return value
