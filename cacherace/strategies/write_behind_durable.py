"""write-behind-durable: write-behind on a durable queue with an idempotent flush.

Sources: the Redis Streams documentation (consumer groups: XREADGROUP delivers
each entry to one consumer and keeps it in that consumer's pending entries list
until XACK; re-reading with ID ``0`` returns the consumer's own pending entries,
which is how a restarted consumer recovers what it had not acknowledged) and
Redis persistence docs (``appendfsync always``: a write is on disk before the
reply, so an acknowledged write survives a crash of the cache).

Write: one Lua script - INCR a global sequence, SET the cache key (no TTL: the
cache holds the only copy until flushed), XADD ``key, value, seq`` to the
stream; acknowledged when the script returns (fsynced under AOF always).
Flusher actor ``flush()``, as consumer ``consumer`` of group ``group``:
first re-read its own pending entries (ID ``0``: a batch a crashed flusher took
but never acknowledged), else read new ones (``>``, no BLOCK); apply the batch
with one UPSERT guarded by the sequence (the row keeps the sequence of the
write it holds and only takes a newer one, so redelivery is harmless); then
XACK and XDEL the entries in one MULTI/EXEC. Pending entries of other consumer
names are not reclaimed (XAUTOCLAIM's idle time is real time, not virtual): the
flusher is restarted under the same name.
Read: GET; on a miss SELECT and fill with SET NX and the TTL, so a fill never
replaces a newer write that reached the cache meanwhile. Cache errors propagate.

Claims (the fixes' promises): ``durable`` (AOF always + acknowledged, redelivered
queue entries), ``converges`` (every entry is applied, in sequence order, and
the cache holds the latest write) and ``read-your-writes`` (reads come from the
cache the write went to).
"""

from __future__ import annotations

from typing import Any, ClassVar

import redis.exceptions

from cacherace.strategies._common import FillOnMiss
from cacherace.strategies.base import Settings

# KEYS: cache key, stream, sequence; ARGV: key, value. -> the write's sequence
_ENQUEUE = """
local seq = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'key', ARGV[1], 'value', ARGV[2], 'seq', seq)
return seq
"""

Entry = tuple[str, dict[str, str] | None]


class WriteBehindDurable(FillOnMiss):
    fill_only_if_absent: ClassVar[bool] = True  # a late fill never replaces a queued write
    name: ClassVar[str] = "write-behind-durable"
    claims: ClassVar[tuple[str, ...]] = ("durable", "converges", "read-your-writes")
    actors: ClassVar[tuple[str, ...]] = ("flush",)
    persistence: ClassVar[str] = "aof-always"
    group: ClassVar[str] = "flushers"
    consumer: ClassVar[str] = "flusher-1"
    #: most queued writes one flush applies
    batch: ClassVar[int] = 100

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._group_ready = False

    @property
    def stream_key(self) -> str:
        return self.settings.aux_key("write-behind-durable:stream")

    @property
    def seq_key(self) -> str:
        return self.settings.aux_key("write-behind-durable:seq")

    def write(self, key: str, value: str) -> None:
        self._enqueue(
            keys=[self.settings.cache_key(key), self.stream_key, self.seq_key], args=[key, value]
        )

    def flush(self) -> int:
        """Apply one batch (own pending entries first); returns how many entries."""
        if not self._group_ready:
            self._create_group()
        try:
            entries = self._read_group("0") or self._read_group(">")
        except redis.exceptions.ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            self._group_ready = False  # the stream was lost with the cache
            return 0
        if not entries:
            return 0
        self._apply(entries)
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream_key, self.group, *ids)
        pipe.xdel(self.stream_key, *ids)
        pipe.execute()
        return len(entries)

    def _create_group(self) -> None:
        try:  # from ID 0: writes queued before the group existed are delivered too
            self.redis.xgroup_create(self.stream_key, self.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ready = True

    def _read_group(self, start: str) -> list[Entry]:
        reply = self.redis.xreadgroup(
            self.group, self.consumer, {self.stream_key: start}, count=self.batch
        )
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3 clients answer with a mapping
            return [tuple(e) for e in next(iter(reply.values()))[0]]
        return [tuple(e) for e in reply[0][1]]

    def _apply(self, entries: list[Entry]) -> None:
        latest: dict[str, tuple[int, str]] = {}
        for _, fields in entries:
            if not fields:  # a pending entry deleted from the stream: nothing to apply
                continue
            seq = int(fields["seq"])
            if fields["key"] not in latest or latest[fields["key"]][0] < seq:
                latest[fields["key"]] = (seq, fields["value"])
        if not latest:
            return
        table = self.settings.table
        # Idempotent: a row only takes a write newer than the one it holds.
        self.db.execute(
            f"INSERT INTO {table} AS t (key, value, version, seq) "
            "SELECT k, v, 1, s FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS u(k, v, s) "
            "ON CONFLICT (key) DO UPDATE "
            "SET value = EXCLUDED.value, version = t.version + 1, seq = EXCLUDED.seq "
            "WHERE t.seq < EXCLUDED.seq",
            (list(latest), [v for _, v in latest.values()], [s for s, _ in latest.values()]),
        )

    @classmethod
    def create_schema(cls, db: Any, settings: Settings) -> None:
        super().create_schema(db, settings)
        # The sequence of the queued write a row holds; 0 for rows written otherwise.
        db.execute(
            f"ALTER TABLE {settings.table} ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0"
        )
