"""write-behind and write-behind-durable: the queue, the flusher, redelivery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cacherace.servers import Backend, BackendUnavailable
from cacherace.strategies import Settings, Strategy
from cacherace.strategies.write_behind import WriteBehind
from cacherace.strategies.write_behind_durable import WriteBehindDurable

BOTH = pytest.mark.parametrize("cls", [WriteBehind, WriteBehindDurable])


def row(db: Any, settings: Settings, key: str) -> tuple[str, int] | None:
    found = db.execute(
        f"SELECT value, version FROM {settings.table} WHERE key = %s", (key,)
    ).fetchone()
    return None if found is None else (found[0], found[1])


@BOTH
def test_the_database_gets_the_write_only_when_flushed(
    cls: type[Strategy], make: Callable[..., Strategy], db: Any, settings: Settings
) -> None:
    s = make(cls, initial={"k": "v0"})
    s.write("k", "v1")
    s.write("k", "v2")
    assert s.read("k") == "v2"  # acknowledged and served from the cache at once
    assert cls.peek_database(db, settings, ["k"]) == {"k": "v0"}
    flusher = make(cls)  # the actor is its own participant
    assert flusher.flush() == 2
    assert row(db, settings, "k") == ("v2", 2)  # coalesced: one UPSERT per key
    assert flusher.flush() == 0
    assert flusher.flush() == 0


@BOTH
def test_flush_applies_at_most_one_batch(
    cls: type[Strategy],
    make: Callable[..., Strategy],
    db: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cls, "batch", 2)
    s = make(cls, initial={})
    for i in range(5):
        s.write(f"k{i}", str(i))
    assert [s.flush() for _ in range(4)] == [2, 2, 1, 0]
    assert cls.peek_database(db, settings, [f"k{i}" for i in range(5)]) == {
        f"k{i}": str(i) for i in range(5)
    }


@BOTH
def test_cached_writes_have_no_ttl(
    cls: type[Strategy], make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    # Until flushed the cache holds the only copy: it must not expire.
    make(cls, initial={}).write("k", "v")
    assert redis_client.pttl(settings.cache_key("k")) == -1


class CrashBeforeApply(WriteBehindDurable):
    def _apply(self, entries: Any) -> None:
        raise RuntimeError("flusher killed after reading its batch")


class CrashBeforeAck(WriteBehindDurable):
    def _apply(self, entries: Any) -> None:
        super()._apply(entries)
        raise RuntimeError("flusher killed after the UPSERT, before XACK")


@pytest.mark.parametrize("crashing", [CrashBeforeApply, CrashBeforeAck])
def test_durable_redelivers_what_a_crashed_flusher_did_not_ack(
    crashing: type[WriteBehindDurable],
    make: Callable[..., Strategy],
    db: Any,
    settings: Settings,
) -> None:
    s = make(WriteBehindDurable, initial={"k": "v0"})
    s.write("k", "v1")
    s.write("other", "o1")
    with pytest.raises(RuntimeError):
        make(crashing).flush()
    restarted = make(WriteBehindDurable)  # same consumer name, a fresh process
    assert restarted.flush() == 2  # its own pending entries, re-read with ID 0
    assert restarted.flush() == 0
    # Applied exactly once in effect: version 2 (v0 -> v1), even if the UPSERT ran twice.
    assert row(db, settings, "k") == ("v1", 2)
    assert row(db, settings, "other") == ("o1", 1)


def test_durable_flush_is_idempotent_and_never_goes_back(
    make: Callable[..., Strategy], redis_client: Any, db: Any, settings: Settings
) -> None:
    s = make(WriteBehindDurable, initial={})
    assert isinstance(s, WriteBehindDurable)
    s.write("k", "v1")
    s.write("k", "v2")
    assert s.flush() == 2
    assert row(db, settings, "k") == ("v2", 1)
    # The same writes delivered again (e.g. re-queued by an operator): nothing changes.
    for seq, value in ((1, "v1"), (2, "v2")):
        redis_client.xadd(s.stream_key, {"key": "k", "value": value, "seq": seq})
    assert s.flush() == 2
    assert row(db, settings, "k") == ("v2", 1)
    s.write("k", "v3")
    assert s.flush() == 1
    assert row(db, settings, "k") == ("v3", 2)


def test_durable_flush_recreates_a_lost_stream(
    make: Callable[..., Strategy], redis_client: Any, db: Any, settings: Settings
) -> None:
    s = make(WriteBehindDurable, initial={})
    assert s.flush() == 0  # creates the group
    redis_client.flushall()  # the cache lost everything (no persistence)
    assert s.flush() == 0  # NOGROUP: noticed, group recreated next time
    s.write("k", "v")
    assert s.flush() == 1
    assert WriteBehindDurable.peek_database(db, settings, ["k"]) == {"k": "v"}


def test_durable_read_fill_never_replaces_a_queued_write(
    make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    s = make(WriteBehindDurable, initial={"k": "v0"})
    s.write("k", "v1")
    # A reader that fetched v0 from the database before the write fills late.
    assert not redis_client.set(settings.cache_key("k"), "v0", ex=settings.ttl, nx=True)
    assert s.read("k") == "v1"


def test_durable_write_survives_a_cache_crash(
    cacherace_backend: Backend, db: Any, settings: Settings
) -> None:
    try:
        server = cacherace_backend.redis(WriteBehindDurable.persistence)
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))
    if not server.can_crash:
        pytest.skip(f"{server!r} cannot be crashed")
    server.reset(settings.prefix)
    WriteBehindDurable.reset(db, settings, {"k": "v0"})
    with server.client() as client:
        WriteBehindDurable(client, db, settings).write("k", "v1")
    server.crash()
    server.restart()
    with server.client() as client:
        s = WriteBehindDurable(client, db, settings)
        assert s.read("k") == "v1"
        assert s.flush() == 1
    assert WriteBehindDurable.peek_database(db, settings, ["k"]) == {"k": "v1"}
