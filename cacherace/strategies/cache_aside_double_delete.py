"""cache-aside-double-delete: delete, write the database, delete again after a delay.

Source: the "delayed double delete" (延时双删) pattern, widely blogged in the
Chinese industry for Redis + MySQL: delete the cache, update the database, sleep
N ms, delete the cache again, so that a reader which fetched the old row
before the update and put it back into the cache is undone by the second
delete. Sleeping in the request is usually replaced by a delay queue, as here.

Read: the ``cache-aside`` read. Write: DEL; UPSERT; ZADD the cache key to a
Redis sorted set with score ``settings.clock() + settings.delay`` (virtual
time). Actor ``delayed_delete()``: one Lua script removes every due entry and
DELs its cache key (atomic, so a rescheduled key is never lost between the
read of the set and the removal). A cache that is down is treated as a miss /
a skipped delete or schedule, as in cache-aside; the actor lets errors raise.

Claims: the pattern's promise is eventual consistency between cache and
database despite the read/write race - ``converges`` - while keeping
cache-aside's ``ttl-bounded``, ``available-without-cache`` and
``no-aborted-reads``. Not ``fresh-after-ack``: its advocates accept stale reads
during the delay window.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cacherace.strategies._common import or_default, upsert
from cacherace.strategies.base import Settings
from cacherace.strategies.cache_aside import CacheAside

# KEYS: the schedule; ARGV: now, batch. -> how many cache keys were deleted
_DELETE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due == 0 then return 0 end
for _, k in ipairs(due) do redis.call('DEL', k) end
redis.call('ZREM', KEYS[1], unpack(due))
return #due
"""


class CacheAsideDoubleDelete(CacheAside):
    name: ClassVar[str] = "cache-aside-double-delete"
    claims: ClassVar[tuple[str, ...]] = (
        "ttl-bounded",
        "converges",
        "available-without-cache",
        "no-aborted-reads",
    )
    actors: ClassVar[tuple[str, ...]] = ("delayed_delete",)
    #: most second-deletes one ``delayed_delete`` performs
    batch: ClassVar[int] = 100

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self._delete_due = redis.register_script(_DELETE_DUE)

    @property
    def schedule_key(self) -> str:
        return self.settings.aux_key("double-delete:due")

    def write(self, key: str, value: str) -> None:
        ck = self.settings.cache_key(key)
        or_default(lambda: self.redis.delete(ck), None)
        upsert(self.db, self.settings.table, key, value)
        due = self.settings.clock() + self.settings.delay
        or_default(lambda: self.redis.zadd(self.schedule_key, {ck: due}), None)

    def delayed_delete(self) -> int:
        """Perform the second deletes that are due; returns how many."""
        deleted = self._delete_due(
            keys=[self.schedule_key], args=[repr(self.settings.clock()), self.batch]
        )
        return int(deleted)
