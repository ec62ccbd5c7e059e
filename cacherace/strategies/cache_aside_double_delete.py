"""cache-aside-double-delete: delete, write the database, delete again after a delay.

Source: the "delayed double delete" (延时双删) pattern, widely blogged in the
Chinese industry for Redis + MySQL: delete the cache, update the database, sleep
N ms, delete the cache again, so that a reader which fetched the old row
before the update and put it back into the cache is undone by the second
delete. Sleeping in the request is usually replaced by a delay queue, as here.

Read: the ``cache-aside`` read. Write: DEL; UPSERT; ZADD the cache key to a
Redis sorted set with score ``settings.clock() + settings.delay`` (virtual
time). Actor ``delayed_delete()``: ZRANGEBYSCORE the due cache keys, then one Lua
script DELs each one still due and removes it from the set (re-checking the
score, so a key a newer write rescheduled meanwhile keeps its later delete).
A cache that is down is treated as a miss / a skipped delete or schedule, as in
cache-aside; the actor lets errors raise.

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

# KEYS: the schedule, then the due cache keys; ARGV: now. -> how many were deleted.
# The scores are re-checked here: a key rescheduled by a newer write since the
# ZRANGEBYSCORE keeps its later second delete.
_DELETE_DUE = """
local n = 0
for i = 2, #KEYS do
  local due = redis.call('ZSCORE', KEYS[1], KEYS[i])
  if due and tonumber(due) <= tonumber(ARGV[1]) then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], KEYS[i])
    n = n + 1
  end
end
return n
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
        now = self.settings.clock()
        due = self.redis.zrangebyscore(self.schedule_key, "-inf", now, start=0, num=self.batch)
        if not due:
            return 0
        # Every key a script touches is passed in KEYS (as Redis asks), hence two steps.
        deleted = self._delete_due(keys=[self.schedule_key, *due], args=[repr(now)])
        return int(deleted)
