"""ttl-bounded on hand-made histories."""

from __future__ import annotations

import pytest

from cacherace.model import Status
from cacherace.properties import check

from .builders import H

TTL = "ttl-bounded"


def _stale_read_at(delay: float, ttl: float = 10) -> tuple[H, int, int, int]:
    """k.0 replaced by k.1 at t=1, then a read of k.0 that begins ``delay`` s later."""
    h = H(initial={"k": "k.0"}, ttl=ttl)
    h.advance(1)
    h.invoke("c0", "write", "k", "k.1")
    rep = h.db("k", "k.1")
    h.ok("c0")
    h.advance(delay)
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "k.0")
    return h, rep, ri, rc


def test_beyond_ttl_is_broken() -> None:
    h, rep, ri, rc = _stale_read_at(10.5)
    v = check(TTL, h.history)
    assert v.broken and v.witness == (rc, ri, rep)
    assert v.reason == (
        "c1 read k = 'k.0' (t=11.5), but the database had replaced it with 'k.1' at t=1,"
        " 10.5s before that read began, more than the TTL of 10s"
    )


def test_exactly_ttl_holds_and_just_beyond_breaks() -> None:
    assert check(TTL, _stale_read_at(10)[0].history).status is Status.HOLDS
    assert check(TTL, _stale_read_at(10.001)[0].history).broken


def test_float_sums_at_the_boundary_hold() -> None:
    h = H(initial={"k": "k.0"}, ttl=0.3)
    h.db("k", "k.1")
    for _ in range(3):
        h.advance(0.1)  # 0.30000000000000004
    h.read("c1", "k", "k.0")
    assert check(TTL, h.history).status is Status.HOLDS


def test_witness_names_the_change_that_made_a_written_value_current() -> None:
    h = H(initial={"k": "k.0"}, ttl=5)
    made = h.db("k", "k.1")
    rep = h.db("k", "k.2")
    h.advance(6)
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "k.1")
    assert check(TTL, h.history).witness == (rc, ri, rep, made)


def test_current_values_and_stale_within_ttl_hold() -> None:
    h = H(initial={"k": "k.0"}, ttl=10)
    h.read("c0", "k", "k.0")
    h.write("c0", "k", "k.1")
    h.read("c1", "k", "k.0")  # stale, but by 0s
    h.advance(100)
    h.read("c1", "k", "k.1")  # never replaced
    assert check(TTL, h.history).status is Status.HOLDS


def test_replacement_during_the_read_does_not_count() -> None:
    h = H(initial={"k": "k.0"}, ttl=1)
    h.invoke("c1", "read", "k")
    h.advance(5)
    h.db("k", "k.1")
    h.advance(5)
    h.ok("c1", "k.0")
    assert check(TTL, h.history).status is Status.HOLDS


def test_value_current_again_holds() -> None:
    h = H(initial={"k": "k.0"}, ttl=1)
    h.db("k", None)  # deleted, then the same value restored (e.g. recovery)
    h.db("k", "k.0")
    h.advance(5)
    h.read("c1", "k", "k.0")
    assert check(TTL, h.history).status is Status.HOLDS


def test_reading_nothing_long_after_the_row_appeared_is_broken() -> None:
    h = H(ttl=1)
    h.write("c0", "k", "k.1")
    h.advance(2)
    h.read("c1", "k", None)
    v = check(TTL, h.history)
    assert v.broken and "got nothing" in v.reason and "'k.1'" in v.reason


def test_values_that_never_were_in_the_database_are_not_its_business() -> None:
    h = H(initial={"k": "k.0"}, ttl=1)
    h.invoke("c0", "write", "k", "k.1")
    h.fail("c0")
    h.advance(5)
    h.read("c1", "k", "k.1")
    h.read("c1", "k", "zz")
    assert check(TTL, h.history).status is Status.HOLDS


def test_no_ttl_is_unknown() -> None:
    h, *_ = _stale_read_at(100)
    h.history.ttl = None
    v = check(TTL, h.history)
    assert v.status is Status.UNKNOWN and v.reason == "the strategy sets no TTL"


@pytest.mark.parametrize("ttl", [0, 0.5])
def test_zero_and_fractional_ttls(ttl: float) -> None:
    assert check(TTL, _stale_read_at(ttl, ttl=ttl)[0].history).status is Status.HOLDS
    assert check(TTL, _stale_read_at(ttl + 0.01, ttl=ttl)[0].history).broken
