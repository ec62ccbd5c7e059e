"""converges and durable on hand-made histories."""

from __future__ import annotations

import pytest

from cacherace.model import Status
from cacherace.properties import check

from .builders import H


@pytest.mark.parametrize("name", ["converges", "durable"])
def test_no_end_state_is_unknown(name: str) -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    v = check(name, h.history)
    assert v.status is Status.UNKNOWN and "no end state" in v.reason


@pytest.mark.parametrize("name", ["converges", "durable"])
def test_unsettled_end_state_is_unknown_with_its_reason(name: str) -> None:
    h = H(initial={"k": "k.0"})
    h.end({"k": "zz"}, {"k": "yy"}, settled=False, reason="the flusher never drained")
    v = check(name, h.history)
    assert v.status is Status.UNKNOWN and "the flusher never drained" in v.reason


def test_converges_broken_names_the_last_cache_step() -> None:
    h = H(initial={"k1": "k1.0"})
    h.invoke("c1", "read", "k1")
    h.step("c1", "redis", "GET cr:k1", "cr:k1")
    h.step("c1", "postgres", "SELECT value FROM items WHERE key = 'k1'")
    h.write("c0", "k1", "k1.1")
    h.advance(2)
    fill = h.step("c1", "redis", "SET cr:k1 'k1.0' EX 300", "cr:k1")
    h.ok("c1", "k1.0")
    h.step("c2", "redis", "GET cr:k10", "cr:k10")  # another key that merely ends alike
    end = h.end({"k1": "k1.0", "k10": None}, {"k1": "k1.1", "k10": None})
    v = check("converges", h.history)
    assert v.broken and v.witness == (end, fill)
    assert v.reason == (
        "at the end (t=2) the cache holds k1 = 'k1.0' (last Redis step on it:"
        " c1 SET cr:k1 'k1.0' EX 300 at t=2), but the database holds 'k1.1'"
    )


def test_converges_holds_for_empty_or_equal_cache() -> None:
    h = H(initial={"a": "a.0", "b": "b.0"})
    h.write("c0", "a", "a.1")
    h.end({"a": "a.1", "b": None}, {"a": "a.1", "b": "b.0"})
    assert check("converges", h.history).status is Status.HOLDS


def test_converges_falls_back_to_the_timeline_for_unlisted_keys() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.end({"k": "k.1"}, {})
    assert check("converges", h.history).status is Status.HOLDS
    h2 = H(initial={"k": "k.0"})
    h2.write("c0", "k", "k.1")
    end = h2.end({"k": "k.0"}, {})
    assert check("converges", h2.history).witness == (end,)


def test_durable_broken_names_the_lost_write() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.advance(1)
    lost = h.ok("c0")  # acknowledged, e.g. queued, but never committed
    h.fault("cache-crash")
    end = h.end({}, {"k": "k.0"})
    v = check("durable", h.history)
    assert v.broken and v.witness == (end, lost)
    assert v.reason == (
        "c0's write of 'k.1' to k, acknowledged at t=1, is lost: at the end (t=1)"
        " the database holds k = 'k.0', the initial value"
    )


def test_durable_broken_when_an_older_write_overwrote_a_later_one() -> None:
    h = H(initial={"k": "k.0"})
    old = h.write("c0", "k", "k.1")
    new = h.write("c1", "k", "k.2", commit=False)
    h.db("k", "k.2")
    h.db("k", "k.1")  # a late flush of the older value
    end = h.end({}, {"k": "k.1"})
    v = check("durable", h.history)
    assert v.broken and v.witness == (end, new, old)
    assert "c0's write of 'k.1', which completed before it began" in v.reason


def test_durable_holds_for_latest_concurrent_and_info_writes() -> None:
    h = H(initial={"a": "a.0", "b": "b.0", "c": "c.0", "d": "d.0"})
    h.write("c0", "a", "a.1")
    h.invoke("c0", "write", "b", "b.1")
    h.invoke("c1", "write", "b", "b.2")
    h.ok("c1")
    h.ok("c0")
    h.invoke("c2", "write", "c", "c.1")
    h.info("c2")  # an info write alone: either value
    h.invoke("c3", "write", "d", "d.1")
    h.info("c3")
    h.end({}, {"a": "a.1", "b": "b.1", "c": "c.0", "d": "d.1"})
    assert check("durable", h.history).status is Status.HOLDS


def test_durable_info_write_cannot_stand_for_a_later_ack() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.info("c0")
    h.write("c1", "k", "k.2")
    h.end({}, {"k": "k.1"})
    assert check("durable", h.history).broken


def test_durable_failed_write_in_the_database_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    failed = h.fail("c0")
    end = h.end({}, {"k": "k.1"})
    v = check("durable", h.history)
    assert v.broken and v.witness == (end, failed)
    assert "written by c0's write of 'k.1', which failed" in v.reason


def test_durable_value_nobody_wrote_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.end({}, {"k": "zz"})
    v = check("durable", h.history)
    assert v.broken and "which no write wrote" in v.reason


def test_durable_keys_written_but_not_listed_use_the_timeline() -> None:
    h = H(initial={})
    h.write("c0", "k", "k.1")
    h.end({}, {})
    assert check("durable", h.history).status is Status.HOLDS
    h2 = H(initial={})
    h2.write("c0", "k", "k.1", commit=False)
    h2.end({}, {})
    assert check("durable", h2.history).broken


def test_converges_with_nothing_cached_is_unknown_not_holds() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.end({"k": None}, {"k": "k.1"})
    v = check("converges", h.history)
    assert v.status is Status.UNKNOWN and "nothing was cached" in v.reason
    h2 = H(initial={"k": "k.0"})
    h2.end({}, {"k": "k.0"})
    assert check("converges", h2.history).status is Status.UNKNOWN
