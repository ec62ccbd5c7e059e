"""cache-aside-versioned: cached values carry the row's version; older never overwrites newer.

Source: version-guarded caching - the conditional "set only if newer" that
memcached's CAS and Redis Lua scripts make atomic, and that versioned caches
(e.g. Facebook TAO's versioned cache entries, HTTP ETags) rely on so that a
late, slow writer of an older version cannot replace a newer cached value.

The cache entry is an envelope ``"<version>:<value>"``. One Lua script sets it
(with the TTL) only if the new version is greater than the cached one.
Read: GET; on a miss SELECT value and version, then the guarded set.
Write: ``UPDATE``/UPSERT ... RETURNING version, then the guarded set with the
new value (update-in-place, made safe by the guard). A cache that is down is
treated as a miss / a skipped update.

Claims: the guard's promise is that the cache only moves forward, so stale sets
cannot stick: ``converges``, ``fresh-after-ack`` and ``monotonic-reads``; as
cache-aside with a TTL it keeps the article's ``ttl-bounded``,
``available-without-cache`` and ``no-aborted-reads``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cacherace.strategies._common import or_default, select_versioned, upsert
from cacherace.strategies.base import Settings, Strategy

# KEYS: value key; ARGV: version, value, ttl. -> 1 stored, 0 refused (not newer)
_SET_IF_NEWER = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+):'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1
"""


def decode(envelope: str) -> tuple[int, str]:
    """``"7:hello"`` -> ``(7, "hello")``; the value may itself contain colons."""
    version, _, value = envelope.partition(":")
    return int(version), value


class CacheAsideVersioned(Strategy):
    name: ClassVar[str] = "cache-aside-versioned"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "ttl-bounded",
        "converges",
        "monotonic-reads",
        "available-without-cache",
        "no-aborted-reads",
    )

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self._set_if_newer = redis.register_script(_SET_IF_NEWER)

    def read(self, key: str) -> str | None:
        cached = or_default(lambda: self.redis.get(self.settings.cache_key(key)), None)
        if cached is not None:
            return decode(str(cached))[1]
        row = select_versioned(self.db, self.settings.table, key)
        if row is None:
            return None
        value, version = row
        self.set_if_newer(key, version, value)
        return value

    def write(self, key: str, value: str) -> None:
        version = upsert(self.db, self.settings.table, key, value)
        self.set_if_newer(key, version, value)

    def set_if_newer(self, key: str, version: int, value: str) -> bool:
        """One script: cache ``value`` at ``version`` unless a newer one is cached."""
        stored = or_default(
            lambda: self._set_if_newer(
                keys=[self.settings.cache_key(key)], args=[version, value, self.settings.ttl]
            ),
            0,
        )
        return bool(stored)

    @classmethod
    def peek_cache(cls, redis: Any, settings: Settings, key: str) -> str | None:
        envelope = redis.get(settings.cache_key(key))
        return None if envelope is None else decode(str(envelope))[1]
