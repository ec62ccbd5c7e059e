"""read-your-writes and monotonic-reads on hand-made histories."""

from __future__ import annotations

from cacherace.model import Status
from cacherace.properties import check

from .builders import H

RYW = "read-your-writes"
MR = "monotonic-reads"


def test_ryw_broken_reading_the_initial_value_after_own_write() -> None:
    h = H(initial={"k": "k.0"})
    own = h.write("c0", "k", "k.1")
    h.advance(3)
    ri = h.invoke("c0", "read", "k")
    rc = h.ok("c0", "k.0")
    v = check(RYW, h.history)
    assert v.broken and v.witness == (rc, ri, own)
    assert "c0 read k = 'k.0' (t=3)" in v.reason
    assert "its own write of 'k.1' acknowledged at t=0" in v.reason


def test_ryw_broken_reading_an_older_write() -> None:
    h = H(initial={"k": "k.0"})
    old = h.write("c1", "k", "k.1")
    own = h.write("c0", "k", "k.2")
    ri = h.invoke("c0", "read", "k")
    rc = h.ok("c0", "k.1")
    v = check(RYW, h.history)
    assert v.broken and v.witness == (rc, ri, own, old)
    assert "c1's write of 'k.1' completed before it began" in v.reason


def test_ryw_is_per_client() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.read("c1", "k", "k.0")  # another client's write: fresh-after-ack's business
    assert check(RYW, h.history).status is Status.HOLDS


def test_ryw_holds_for_own_newer_and_concurrent_values() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.read("c0", "k", "k.1")
    h.invoke("c1", "write", "k", "k.2")
    h.read("c0", "k", "k.2")  # c1's write overlaps nothing of c0's: newer
    h.info("c1")
    h.read("c0", "k", "k.2")
    assert check(RYW, h.history).status is Status.HOLDS


def test_ryw_info_and_failed_own_writes_do_not_count() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.info("c0")
    h.invoke("c0", "write", "k", "k.2")
    h.fail("c0")
    h.read("c0", "k", "k.0")
    assert check(RYW, h.history).status is Status.HOLDS


def test_ryw_never_written_value_after_own_write_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.read("c0", "k", None)
    v = check(RYW, h.history)
    assert v.broken and "no write ever wrote that value" in v.reason


def test_mr_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    first = h.read("c1", "k", "k.1")
    h.advance(1)
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "k.0")
    v = check(MR, h.history)
    assert v.broken and v.witness == (rc, ri, first)
    assert "c1 read k = 'k.0' (t=1), older than 'k.1' which it read at t=0" in v.reason


def test_mr_compares_with_every_earlier_read_not_only_the_previous() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.invoke("c3", "write", "k", "k.3")  # overlaps both other writes
    h.ok("c0")
    h.write("c2", "k", "k.2", commit=False)  # k.1 precedes k.2
    h.ok("c3")
    seen = h.read("c1", "k", "k.2")
    h.read("c1", "k", "k.3")  # concurrent with k.2: fine, and k.1 is not older than k.3
    h.read("c1", "k", "k.1")  # older than k.2, read two reads ago
    v = check(MR, h.history)
    assert v.broken and v.witness[2] == seen


def test_mr_holds_for_equal_newer_concurrent_and_info_values() -> None:
    h = H(initial={"k": "k.0"})
    h.read("c1", "k", "k.0")
    h.read("c1", "k", "k.0")
    h.invoke("c0", "write", "k", "k.1")
    h.invoke("c2", "write", "k", "k.2")
    h.read("c1", "k", "k.2")
    h.read("c1", "k", "k.1")  # both in flight: unordered
    h.info("c0")
    h.fail("c2")
    h.read("c1", "k", "k.1")
    assert check(MR, h.history).status is Status.HOLDS


def test_mr_is_per_client_and_per_key() -> None:
    h = H(initial={"a": "a.0", "b": "b.0"})
    h.write("c0", "a", "a.1")
    h.read("c1", "a", "a.1")
    h.read("c2", "a", "a.0")  # another client
    h.read("c1", "b", "b.0")  # another key
    assert check(MR, h.history).status is Status.HOLDS


def test_mr_ignores_values_nobody_wrote() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.read("c1", "k", "zz")
    h.read("c1", "k", "k.0")
    h.read("c1", "k", "zz")
    assert check(MR, h.history).status is Status.HOLDS
