"""write-through: the article's write path - database, then cache SET.

Write: UPSERT the row, then SET the new value with the TTL (the article's
``update_user``). Read: GET; on a miss SELECT and SET with the TTL. The cache is
part of the write path, so cache errors propagate (the article does not promise
write-through survives a cache failure); note a failed SET after the UPSERT
reports a write that did commit.

Claims, from the article: "The cache is always fresh", "cache and DB always in
sync, no stale reads" -> ``fresh-after-ack`` (no stale reads once acked),
``converges`` (always in sync), ``read-your-writes`` and ``monotonic-reads``
(no stale read of any kind, so a client never sees an older value than one it
wrote or already read).
"""

from __future__ import annotations

from typing import ClassVar

from cacherace.strategies._common import FillOnMiss, upsert


class WriteThrough(FillOnMiss):
    name: ClassVar[str] = "write-through"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "converges",
        "read-your-writes",
        "monotonic-reads",
    )

    def write(self, key: str, value: str) -> None:
        upsert(self.db, self.settings.table, key, value)
        self.redis.set(self.settings.cache_key(key), value, ex=self.settings.ttl)
