"""write-behind: writes go to the cache and a queue, a flusher writes the database later.

Write: one MULTI/EXEC pipeline - SET the cache key (no TTL: until it is flushed
the cache is the only copy, and a TTL could expire an unflushed write) and RPUSH
``[key, value]`` onto a Redis list; acknowledged at once.
Flusher actor ``flush()``: LPOP a batch, then one UPSERT of the batch (the last
write of each key wins). A flusher that dies between the two loses the batch.
Read: GET; on a miss SELECT and SET with the TTL. The cache is the write path,
so cache errors propagate.

Claims, from the article ("The app writes to the cache only. The cache
asynchronously batches writes to the DB later"): ``read-your-writes`` (reads
come from the cache the write just went to) and ``converges`` (the flusher
brings the database, and fills the cache, to the same values). Not ``durable``:
the article admits "if the cache dies before flushing, you lose writes".
"""

from __future__ import annotations

import json
from typing import ClassVar

from cacherace.strategies._common import FillOnMiss


class WriteBehind(FillOnMiss):
    name: ClassVar[str] = "write-behind"
    claims: ClassVar[tuple[str, ...]] = ("read-your-writes", "converges")
    actors: ClassVar[tuple[str, ...]] = ("flush",)
    #: most queued writes one flush applies
    batch: ClassVar[int] = 100

    @property
    def queue_key(self) -> str:
        return self.settings.aux_key("write-behind:queue")

    def write(self, key: str, value: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.settings.cache_key(key), value)
        pipe.rpush(self.queue_key, json.dumps([key, value]))
        pipe.execute()

    def flush(self) -> int:
        """Write one batch of queued writes to the database; returns how many."""
        popped = self.redis.lpop(self.queue_key, self.batch)
        if not popped:
            return 0
        latest: dict[str, str] = {}
        for item in popped:
            key, value = json.loads(item)
            latest[key] = value  # queue order: the last write of a key wins
        table = self.settings.table
        # One statement for the batch; a key may appear only once in it.
        self.db.execute(
            f"INSERT INTO {table} AS t (key, value, version) "
            "SELECT k, v, 1 FROM unnest(%s::text[], %s::text[]) AS u(k, v) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = t.version + 1",
            (list(latest), list(latest.values())),
        )
        return len(popped)
