"""Flask-Caching: ``@cache.memoize`` on cachelib's ``RedisCache``, with
``cache.delete_memoized`` after the database write.

``cache_none=True`` caches a missing row as None and, to tell a cached None from a
miss, asks ``EXISTS`` after a ``GET`` that found nothing: a fill by another client
between the two makes the read return None although the row exists
(Flask-Caching #135). PR #140 made ``cache_none=False`` the default, which narrows
this to code that opts in; :class:`FlaskCachingMemoize` opts in to show the race,
:class:`FlaskCachingDefault` keeps the default.

Each client builds its own Flask app and ``Cache`` (its own cachelib client, with
cachelib's own pickling), as one application process would.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Flask
from flask_caching import Cache

from cacherace.contrib._connect import redis_options
from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Settings, Strategy


class FlaskCachingMemoize(Strategy):
    name: ClassVar[str] = "flask-caching-memoize"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "converges", "no-aborted-reads")
    cache_none: ClassVar[bool] = True

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        where = redis_options(redis)
        self.cache = Cache(Flask(__name__), config={
            "CACHE_TYPE": "RedisCache", "CACHE_REDIS_HOST": where["host"],
            "CACHE_REDIS_PORT": where["port"], "CACHE_REDIS_DB": where["db"],
            "CACHE_KEY_PREFIX": settings.prefix, "CACHE_DEFAULT_TIMEOUT": settings.ttl,
        })  # fmt: skip

        @self.cache.memoize(cache_none=self.cache_none)
        def load(key: str) -> str | None:
            return select_value(db, settings.table, key)

        self.load = load

    def read(self, key: str) -> str | None:
        return self.load(key)  # type: ignore[no-any-return]

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        self.cache.delete_memoized(self.load, key)


class FlaskCachingDefault(FlaskCachingMemoize):
    """The default since PR #140: a None result is not cached, no EXISTS check."""

    name: ClassVar[str] = "flask-caching-default"
    cache_none: ClassVar[bool] = False
