"""cache-aside-leases: cache-aside with memcache-style leases, atomic on Redis.

Source: Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013, section 3.2.1
("Leases"): on a miss the cache hands the client a lease token; the client may
store the value it fetched only with that token, and a delete of the key
invalidates outstanding tokens, so a slow reader cannot put back a value the
writer already invalidated ("stale sets"). Leases also rate-limit misses
("thundering herds"): only one client at a time holds a key's lease.

Here, each in one Lua script (one step):

- read miss: ``GET`` the value; if absent and no live lease is outstanding, take
  one (a token from ``INCR``, stored as ``token:deadline`` at the lease key).
  The deadline counts in ``settings.clock()`` so a crashed reader's lease lapses
  in virtual time after ``lease_seconds``.
- fill: ``SET`` the value with the TTL only if the lease key still holds that
  token and has not lapsed; the lease is then released.
- write: UPSERT the row, then one ``DEL`` of value and lease key together (one
  atomic command), which voids every outstanding lease.

Hot-miss policy, kept simple: a reader that finds another client's live lease
reads the database and returns without filling (Facebook's clients instead
wait briefly and retry the cache). A cache that is down is treated as a miss
with no lease (read from the database, no fill) / a skipped invalidation.
A miss on a key with no row is not cached; its lease is left to lapse (or to be
voided by the write that creates the row).

Claims: it is the article's cache-aside (delete-on-write + TTL), so it keeps its
claims ``fresh-after-ack``, ``ttl-bounded``, ``available-without-cache`` and
``no-aborted-reads``; the paper's promise for leases - no stale sets - is what
makes ``converges`` (and ``fresh-after-ack``) hold under concurrent fills.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cacherace.strategies._common import or_default, select_value, upsert
from cacherace.strategies.base import Settings, Strategy

# KEYS: value, lease, lease counter; ARGV: now, deadline.
# -> {"hit", value} | {"lease", token} | {"wait"}
_GET_OR_LEASE = """
local v = redis.call('GET', KEYS[1])
if v then return {'hit', v} end
local lease = redis.call('GET', KEYS[2])
if lease then
  local deadline = string.match(lease, ':(.*)$')
  if tonumber(deadline) > tonumber(ARGV[1]) then return {'wait'} end
end
local token = tostring(redis.call('INCR', KEYS[3]))
redis.call('SET', KEYS[2], token .. ':' .. ARGV[2])
return {'lease', token}
"""

# KEYS: value, lease; ARGV: token, value, ttl, now. -> 1 stored, 0 refused
_FILL_WITH_LEASE = """
local lease = redis.call('GET', KEYS[2])
if not lease then return 0 end
local token, deadline = string.match(lease, '^(%d+):(.*)$')
if token ~= ARGV[1] or tonumber(deadline) <= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
"""


class CacheAsideLeases(Strategy):
    name: ClassVar[str] = "cache-aside-leases"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "ttl-bounded",
        "converges",
        "available-without-cache",
        "no-aborted-reads",
    )
    #: how long (virtual seconds) a lease stays valid; Facebook hands out one
    #: lease per key every 10 seconds.
    lease_seconds: ClassVar[float] = 10.0

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self._get_or_lease = redis.register_script(_GET_OR_LEASE)
        self._fill = redis.register_script(_FILL_WITH_LEASE)

    def lease_key(self, key: str) -> str:
        return self.settings.aux_key(f"lease:{key}")

    def read(self, key: str) -> str | None:
        kind, payload = self.get_or_lease(key)
        if kind == "hit":
            return payload
        value = select_value(self.db, self.settings.table, key)
        if kind == "lease" and value is not None and payload is not None:
            self.fill(key, payload, value)
        return value

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        ck, lk = self.settings.cache_key(key), self.lease_key(key)
        or_default(lambda: self.redis.delete(ck, lk), None)  # voids outstanding leases

    # -- the two lease steps, public so they can be driven by hand --------------
    def get_or_lease(self, key: str) -> tuple[str, str | None]:
        """One script: ``("hit", value)``, ``("lease", token)`` or ``("wait", None)``
        (another client holds a live lease, or the cache is down)."""
        now = self.settings.clock()
        reply = or_default(
            lambda: self._get_or_lease(
                keys=[self.settings.cache_key(key), self.lease_key(key), self._counter_key],
                args=[repr(now), repr(now + self.lease_seconds)],
            ),
            ["wait"],
        )
        return str(reply[0]), (str(reply[1]) if len(reply) > 1 else None)

    def fill(self, key: str, token: str, value: str) -> bool:
        """One script: store ``value`` if ``token`` is still the key's live lease."""
        stored = or_default(
            lambda: self._fill(
                keys=[self.settings.cache_key(key), self.lease_key(key)],
                args=[token, value, self.settings.ttl, repr(self.settings.clock())],
            ),
            0,
        )
        return bool(stored)

    @property
    def _counter_key(self) -> str:
        return self.settings.aux_key("lease-counter")
