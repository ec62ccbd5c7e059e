"""Strategies written for the engine's tests of transactions (the catalog's strategies
write in single autocommit statements)."""

from __future__ import annotations

from typing import ClassVar

from cacherace.strategies._common import or_default
from cacherace.strategies.cache_aside import CacheAside


class SetThenTransaction(CacheAside):
    """A user's write: SET the cache, then UPDATE the row inside ``with
    conn.transaction()``. A driver-call fault on that block's COMMIT once left the
    connection inside a transaction psycopg no longer tracked: every later block
    nested in savepoints, nothing committed again, the row lock stayed held, and
    Hypothesis saw "Inconsistent data generation" (or the next reset hung)."""

    name: ClassVar[str] = "set-then-transaction"
    claims: ClassVar[tuple[str, ...]] = (
        "fresh-after-ack",
        "converges",
        "available-without-cache",
        "no-aborted-reads",
    )

    def write(self, key: str, value: str) -> None:
        ck = self.settings.cache_key(key)
        or_default(lambda: self.redis.set(ck, value, ex=self.settings.ttl), None)
        with self.db.transaction():
            self.db.execute(
                f"UPDATE {self.settings.table} SET value = %s WHERE key = %s", (value, key)
            )


class LeavesTransactionOpen(CacheAside):
    """Its write reads the row inside a transaction it never ends (no row lock)."""

    name: ClassVar[str] = "leaves-transaction-open"
    claims: ClassVar[tuple[str, ...]] = ("no-aborted-reads",)

    def write(self, key: str, value: str) -> None:
        self.db.execute("BEGIN")
        self.db.execute(f"SELECT value FROM {self.settings.table} WHERE key = %s", (key,))


class HoldsRowLock(CacheAside):
    """Its write updates the row inside a transaction it never ends: the row lock
    stays held after the operation."""

    name: ClassVar[str] = "holds-row-lock"
    claims: ClassVar[tuple[str, ...]] = ("no-aborted-reads",)

    def write(self, key: str, value: str) -> None:
        self.db.execute("BEGIN")
        self.db.execute(f"UPDATE {self.settings.table} SET value = %s WHERE key = %s", (value, key))
