"""The fixes, driven by hand through the race each one exists to stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cacherace.strategies import Settings, Strategy
from cacherace.strategies.cache_aside import CacheAside
from cacherace.strategies.cache_aside_double_delete import CacheAsideDoubleDelete
from cacherace.strategies.cache_aside_leases import CacheAsideLeases
from cacherace.strategies.cache_aside_versioned import CacheAsideVersioned

from_db = CacheAside.peek_database


def test_plain_cache_aside_lets_the_stale_fill_through(
    make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    # The race the fixes address, spelled out with cache-aside's own calls.
    writer = make(CacheAside, initial={"k": "old"})
    stale = "old"  # a reader missed and SELECTed before the write...
    writer.write("k", "new")
    redis_client.set(settings.cache_key("k"), stale, ex=settings.ttl)  # ...and fills now
    assert writer.read("k") == "old"


# -- leases --------------------------------------------------------------------
def leases(make: Callable[..., Strategy], **kw: Any) -> CacheAsideLeases:
    s = make(CacheAsideLeases, **kw)
    assert isinstance(s, CacheAsideLeases)
    return s


def test_lease_blocks_the_stale_fill(
    make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    reader = leases(make, initial={"k": "old"})
    writer = leases(make)
    kind, token = reader.get_or_lease("k")
    assert kind == "lease" and token
    writer.write("k", "new")  # DB, then DEL value + lease
    assert not reader.fill("k", token, "old")  # refused: the lease was voided
    assert CacheAsideLeases.peek_cache(redis_client, settings, "k") is None
    assert reader.read("k") == "new"
    assert CacheAsideLeases.peek_cache(redis_client, settings, "k") == "new"


def test_only_one_client_holds_a_lease_and_the_other_does_not_fill(
    make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    first, second = leases(make, initial={"k": "v"}), leases(make)
    kind, token = first.get_or_lease("k")
    assert kind == "lease"
    assert second.get_or_lease("k") == ("wait", None)
    assert second.read("k") == "v"  # served from the database, no fill
    assert CacheAsideLeases.peek_cache(redis_client, settings, "k") is None
    assert token is not None and first.fill("k", token, "v")
    assert second.get_or_lease("k") == ("hit", "v")


def test_a_lease_lapses_in_virtual_time(
    make: Callable[..., Strategy], clock: Any, redis_client: Any, settings: Settings
) -> None:
    crashed, other = leases(make, initial={"k": "v"}), leases(make)
    _, token = crashed.get_or_lease("k")  # and its client dies holding it
    assert other.get_or_lease("k") == ("wait", None)
    clock.advance(CacheAsideLeases.lease_seconds)
    assert token is not None and not crashed.fill("k", token, "v")  # lapsed: refused
    kind, fresh = other.get_or_lease("k")
    assert kind == "lease" and fresh != token


# -- versioned -----------------------------------------------------------------
def test_versioned_refuses_an_older_version(
    make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    s = make(CacheAsideVersioned, initial={"k": "v1"})
    assert isinstance(s, CacheAsideVersioned)
    s.write("k", "v2")  # version 2, cached in place
    assert redis_client.get(settings.cache_key("k")) == "2:v2"
    assert not s.set_if_newer("k", 1, "v1")  # the late reader of version 1
    assert not s.set_if_newer("k", 2, "other")  # equal is not newer
    assert CacheAsideVersioned.peek_cache(redis_client, settings, "k") == "v2"
    assert s.set_if_newer("k", 3, "v3:x")
    assert CacheAsideVersioned.peek_cache(redis_client, settings, "k") == "v3:x"
    assert 0 < redis_client.pttl(settings.cache_key("k")) <= settings.ttl * 1000


def test_versioned_read_fills_with_the_row_version(
    make: Callable[..., Strategy], redis_client: Any, db: Any, settings: Settings
) -> None:
    s = make(CacheAsideVersioned, initial={"k": "a"})
    s.write("k", "b")
    redis_client.delete(settings.cache_key("k"))
    assert s.read("k") == "b"
    assert redis_client.get(settings.cache_key("k")) == "2:b"


# -- double delete ---------------------------------------------------------------
def test_the_second_delete_waits_for_the_delay(
    make: Callable[..., Strategy], clock: Any, redis_client: Any, db: Any, settings: Settings
) -> None:
    writer = make(CacheAsideDoubleDelete, initial={"k": "old"})
    worker = make(CacheAsideDoubleDelete)
    assert isinstance(worker, CacheAsideDoubleDelete)
    writer.write("k", "new")
    redis_client.set(settings.cache_key("k"), "old", ex=settings.ttl)  # the stale fill
    assert worker.delayed_delete() == 0
    clock.advance(settings.delay / 2)
    assert worker.delayed_delete() == 0
    assert writer.read("k") == "old"  # the window the pattern accepts
    clock.advance(settings.delay / 2)
    assert worker.delayed_delete() == 1
    assert CacheAsideDoubleDelete.peek_cache(redis_client, settings, "k") is None
    assert worker.delayed_delete() == 0
    assert writer.read("k") == "new"
    assert from_db(db, settings, ["k"]) == {"k": "new"}


def test_a_rescheduled_second_delete_is_kept(
    make: Callable[..., Strategy], clock: Any, redis_client: Any, settings: Settings
) -> None:
    s = make(CacheAsideDoubleDelete, initial={"k": "v0"})
    assert isinstance(s, CacheAsideDoubleDelete)
    s.write("k", "v1")
    clock.advance(settings.delay)
    s.write("k", "v2")  # pushes k's second delete to a later time
    assert s.delayed_delete() == 0
    assert redis_client.zscore(s.schedule_key, settings.cache_key("k")) == clock() + settings.delay
    clock.advance(settings.delay)
    assert s.delayed_delete() == 1
    assert redis_client.zcard(s.schedule_key) == 0
