"""The database's reference timeline: a DbChange right after each committing step."""

from __future__ import annotations

from typing import ClassVar

from cacherace.model.history import DbChange, Step
from cacherace.strategies import Strategy
from cacherace.strategies.cache_aside import CacheAside

from .conftest import TABLE, MakeScheduler
from .helpers import of, steps

UPDATE = f"UPDATE {TABLE} SET value = %s WHERE key = %s"


class TxWriter(Strategy):
    """write(key, value): UPDATE in a transaction block; a value ending in ``!`` makes
    the block fail after the UPDATE (rolled back). With ``explicit`` in the value,
    non-autocommit statements and conn.commit()."""

    name: ClassVar[str] = "tx-writer"

    def write(self, key: str, value: str) -> None:
        if "explicit" in value:
            self.db.autocommit = False
            try:
                self.db.execute(UPDATE, (value, key))
                self.db.commit()
            finally:
                self.db.autocommit = True
            return
        with self.db.transaction():
            self.db.execute(UPDATE, (value, key))
            if value.endswith("!"):
                raise RuntimeError("abort")


def test_autocommit_upsert_is_followed_by_its_db_change(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.step("c0")  # the UPSERT
    upsert = h.events[-2]
    assert isinstance(upsert, Step) and upsert.command.startswith("INSERT")
    change = h.events[-1]
    assert isinstance(change, DbChange)
    assert (change.key, change.value, change.step) == ("k1", "k1.1", upsert.index)
    s.run_to_end("c0")
    assert len(of(h, DbChange)) == 1  # the DEL changes nothing in the database


def test_a_transaction_changes_the_database_at_its_commit(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(TxWriter, clients=2)
    h = s.reset()
    s.start("c0", "write", "k1", "k1.1")
    s.step("c0")  # BEGIN
    s.step("c0")  # UPDATE, not committed
    assert of(h, DbChange) == []
    s.start("c1", "write", "k1", "k1.2!")  # c1's block will roll back
    s.step("c1")  # BEGIN
    s.step("c0")  # COMMIT
    commit = steps(h, "c0")[-1]
    assert commit.command == "COMMIT"
    [change] = of(h, DbChange)
    assert change.index == commit.index + 1
    assert (change.key, change.value, change.step) == ("k1", "k1.1", commit.index)
    s.run_to_end("c1")  # UPDATE, ROLLBACK
    assert [e.command for e in steps(h, "c1")][-1] == "ROLLBACK"
    assert len(of(h, DbChange)) == 1  # nothing after the rollback
    s.start("c1", "write", "k1", "k1.explicit")
    s.run_to_end("c1")
    assert [e.command for e in steps(h, "c1")][-2:] == [f"{UPDATE} [k1.explicit, k1]", "COMMIT"]
    last = of(h, DbChange)[-1]
    assert (last.value, last.step) == ("k1.explicit", steps(h, "c1")[-1].index)
    end = s.settle()
    assert end.db == {"k1": "k1.explicit"}
    assert h.db_changes("k1") == of(h, DbChange)
