"""Every catalog strategy, run sequentially, does what it says on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cacherace.strategies import CATALOG, Settings, Strategy

CLAIMS = {
    "fresh-after-ack",
    "ttl-bounded",
    "converges",
    "durable",
    "no-aborted-reads",
    "read-your-writes",
    "monotonic-reads",
    "available-without-cache",
}

ALL = pytest.mark.parametrize("cls", list(CATALOG.values()), ids=list(CATALOG))


def test_catalog_names_and_order() -> None:
    assert list(CATALOG) == [
        "cache-aside",
        "cache-aside-update",
        "read-through",
        "write-through",
        "write-behind",
        "cache-aside-leases",
        "cache-aside-versioned",
        "cache-aside-double-delete",
        "write-behind-durable",
    ]


@ALL
def test_declares_known_claims_and_documents_them(cls: type[Strategy]) -> None:
    assert cls.claims and set(cls.claims) <= CLAIMS
    doc = __import__(cls.__module__, fromlist=["_"]).__doc__
    assert doc and doc.startswith(cls.name)
    for claim in cls.claims:
        assert f"``{claim}``" in doc, f"{cls.name}'s docstring does not explain {claim}"
    for actor in cls.actors:
        assert callable(getattr(cls, actor))


def test_only_the_durable_queue_claims_durable() -> None:
    assert [n for n, c in CATALOG.items() if "durable" in c.claims] == ["write-behind-durable"]
    assert CATALOG["write-behind-durable"].persistence == "aof-always"


@ALL
def test_read_after_write_returns_the_written_value(
    cls: type[Strategy],
    make: Callable[..., Strategy],
    db: Any,
    drain: Callable[[Strategy], None],
    settings: Settings,
) -> None:
    s = make(cls, initial={"k": "old"})
    s.write("k", "new: with colons")
    assert s.read("k") == "new: with colons"
    assert make(cls).read("k") == "new: with colons"  # another client, too
    drain(s)
    assert cls.peek_database(db, settings, ["k"]) == {"k": "new: with colons"}
    assert make(cls).read("k") == "new: with colons"


@ALL
def test_write_creates_a_missing_row(
    cls: type[Strategy],
    make: Callable[..., Strategy],
    db: Any,
    drain: Callable[[Strategy], None],
    settings: Settings,
) -> None:
    s = make(cls, initial={})
    s.write("fresh", "v")
    drain(s)
    assert cls.peek_database(db, settings, ["fresh", "other"]) == {"fresh": "v", "other": None}
    assert s.read("fresh") == "v"


@ALL
def test_a_miss_fills_the_cache_with_the_ttl(
    cls: type[Strategy], make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    s = make(cls, initial={"k": "v0"})
    assert cls.peek_cache(redis_client, settings, "k") is None
    assert s.read("k") == "v0"
    assert cls.peek_cache(redis_client, settings, "k") == "v0"
    (cache_key,) = cls.cache_keys(settings, "k")
    assert 0 < redis_client.pttl(cache_key) <= settings.ttl * 1000
    assert s.read("k") == "v0"  # now a hit


@ALL
def test_an_absent_row_reads_none_and_is_not_cached(
    cls: type[Strategy], make: Callable[..., Strategy], redis_client: Any, settings: Settings
) -> None:
    s = make(cls, initial={})
    assert s.read("nothing") is None
    assert cls.peek_cache(redis_client, settings, "nothing") is None


@ALL
def test_writes_of_several_keys_stay_apart(
    cls: type[Strategy],
    make: Callable[..., Strategy],
    db: Any,
    drain: Callable[[Strategy], None],
    settings: Settings,
) -> None:
    s = make(cls, initial={"a": "a0", "b": "b0"})
    s.write("a", "a1")
    s.write("a", "a2")
    s.write("b", "b1")
    drain(s)
    assert cls.peek_database(db, settings, ["a", "b"]) == {"a": "a2", "b": "b1"}
    assert (s.read("a"), s.read("b")) == ("a2", "b1")
