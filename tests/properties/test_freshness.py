"""fresh-after-ack and no-aborted-reads on hand-made histories."""

from __future__ import annotations

from cacherace.model import Status
from cacherace.properties import check

from .builders import H

FRESH = "fresh-after-ack"
ABORTED = "no-aborted-reads"


def test_stale_initial_value_after_ack_is_broken() -> None:
    h = H(initial={"k1": "k1.0"})
    ack = h.write("c0", "k1", "k1.1")
    h.advance(2)
    ri = h.invoke("c1", "read", "k1")
    rc = h.ok("c1", "k1.0")
    v = check(FRESH, h.history)
    assert v.status is Status.BROKEN
    assert v.witness == (rc, ri, ack)
    assert "c1 read k1 = 'k1.0' (t=2)" in v.reason
    assert "c0's write of 'k1.1' was acknowledged (t=0) before that read began" in v.reason
    assert "initial value" in v.reason


def test_stale_written_value_names_both_writes() -> None:
    h = H(initial={"k": "k.0"})
    old = h.write("c0", "k", "k.1")
    new = h.write("c2", "k", "k.2")
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "k.1")
    v = check(FRESH, h.history)
    assert v.broken and v.witness == (rc, ri, new, old)
    assert "c2's write of 'k.2'" in v.reason and "c0's write of 'k.1'" in v.reason


def test_latest_value_holds() -> None:
    h = H(initial={"k": "k.0"})
    h.read("c1", "k", "k.0")
    h.write("c0", "k", "k.1")
    h.read("c1", "k", "k.1")
    h.write("c1", "k", "k.2")
    h.read("c0", "k", "k.2")
    assert check(FRESH, h.history).status is Status.HOLDS


def test_overlapping_writes_are_unordered_either_value_holds() -> None:
    for seen in ("k.1", "k.2"):
        h = H(initial={"k": "k.0"})
        h.invoke("c0", "write", "k", "k.1")
        h.invoke("c1", "write", "k", "k.2")
        h.ok("c1")
        h.ok("c0")
        h.read("c2", "k", seen)
        assert check(FRESH, h.history).status is Status.HOLDS, seen


def test_write_acknowledged_during_the_read_does_not_count() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c1", "read", "k")
    h.write("c0", "k", "k.1")
    h.ok("c1", "k.0")
    assert check(FRESH, h.history).status is Status.HOLDS


def test_info_write_allowed_both_ways() -> None:
    for seen in ("k.0", "k.1"):
        h = H(initial={"k": "k.0"})
        h.invoke("c0", "write", "k", "k.1")
        h.info("c0")
        h.read("c1", "k", seen)
        assert check(FRESH, h.history).status is Status.HOLDS, seen


def test_info_write_that_ended_before_a_later_ack_is_stale() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    info = h.info("c0")
    ack = h.write("c1", "k", "k.2")
    ri = h.invoke("c2", "read", "k")
    rc = h.ok("c2", "k.1")
    v = check(FRESH, h.history)
    assert v.broken and v.witness == (rc, ri, ack, info)


def test_in_flight_write_never_precedes_anything() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")  # never completes
    h.write("c2", "k", "k.2")
    h.read("c1", "k", "k.1")
    assert check(FRESH, h.history).status is Status.HOLDS


def test_failed_write_value_is_broken_as_aborted() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    failed = h.fail("c0")
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "k.1")
    v = check(FRESH, h.history)
    assert v.broken and v.witness == (rc, ri, failed)
    assert "aborted" in v.reason and "c0's write of 'k.1' failed" in v.reason


def test_value_never_written_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "zz")
    v = check(FRESH, h.history)
    assert v.broken and v.witness == (rc, ri)
    assert "'zz'" in v.reason and "no write of k ever wrote" in v.reason


def test_none_reads() -> None:
    h = H()  # no row for k at first: reading nothing is the initial value
    h.read("c0", "k", None)
    assert check(FRESH, h.history).status is Status.HOLDS
    ack = h.write("c1", "k", "k.1")
    ri = h.invoke("c0", "read", "k")
    rc = h.ok("c0", None)
    v = check(FRESH, h.history)
    assert v.broken and v.witness == (rc, ri, ack)
    assert "c0 read k got nothing" in v.reason


def test_nothing_read_while_a_row_exists_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.read("c0", "k", None)
    assert check(FRESH, h.history).broken


def test_failed_info_and_in_flight_reads_are_ignored() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.invoke("c1", "read", "k")
    h.fail("c1")
    h.invoke("c1", "read", "k")
    h.info("c1")
    h.invoke("c2", "read", "k")
    h.invoke("a0", "flush")  # actor operations are ignored
    h.ok("a0")
    assert check(FRESH, h.history).status is Status.HOLDS


def test_first_broken_read_by_completion_is_reported() -> None:
    h = H(initial={"k": "k.0"})
    h.write("c0", "k", "k.1")
    h.invoke("c1", "read", "k")
    h.invoke("c2", "read", "k")
    first = h.ok("c2", "k.0")
    h.ok("c1", "k.0")
    assert check(FRESH, h.history).witness[0] == first


def test_keys_are_independent() -> None:
    h = H(initial={"a": "a.0", "b": "b.0"})
    h.write("c0", "a", "a.1")
    h.read("c1", "b", "b.0")
    assert check(FRESH, h.history).status is Status.HOLDS
    h.read("c1", "b", "a.1")  # a value of another key was never written to b
    assert check(FRESH, h.history).broken


def test_no_aborted_reads_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    failed = h.fail("c0", "connection refused")
    ri = h.invoke("c1", "read", "k")
    rc = h.ok("c1", "k.1")
    v = check(ABORTED, h.history)
    assert v.broken and v.witness == (rc, ri, failed)
    assert "c1 read k = 'k.1'" in v.reason and "c0's write of 'k.1' to k failed" in v.reason


def test_no_aborted_reads_holds_for_info_in_flight_and_unknown_values() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.info("c0")
    h.invoke("c2", "write", "k", "k.2")
    h.read("c1", "k", "k.1")
    h.read("c1", "k", "k.2")  # c2's write is still in flight
    h.read("c1", "k", "zz")  # never written: fresh-after-ack's business
    assert check(ABORTED, h.history).status is Status.HOLDS


def test_no_aborted_reads_read_before_the_failure_is_recorded() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    rc = h.read("c1", "k", "k.1")
    assert check(ABORTED, h.history).status is Status.HOLDS  # the prefix
    h.fail("c0")
    v = check(ABORTED, h.history)
    assert v.broken and v.witness[0] == rc


def _crossing(first_commit: str) -> H:
    """Two overlapping writes, both acknowledged; the database commits
    ``first_commit`` first."""
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.invoke("c1", "write", "k", "k.2")
    second = "k.2" if first_commit == "k.1" else "k.1"
    h.db("k", first_commit)
    h.db("k", second)
    h.ok("c1")
    h.ok("c0")
    return h


def test_overlapping_writes_are_ordered_by_commit() -> None:
    for first, last in (("k.1", "k.2"), ("k.2", "k.1")):
        h = _crossing(first)
        ri = h.invoke("c2", "read", "k")
        rc = h.ok("c2", first)
        v = check(FRESH, h.history)
        assert v.broken, (first, v)
        assert v.witness[:2] == (rc, ri)
        assert "the database committed" in v.reason
        h = _crossing(first)
        h.read("c2", "k", last)
        assert check(FRESH, h.history).status is Status.HOLDS, (first, last)


def test_in_flight_write_committed_first_still_allowed() -> None:
    # c0's write committed before c1's, but c0 is still in flight: its value may
    # be put in place again at any time, so reading it is allowed.
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "write", "k", "k.1")
    h.db("k", "k.1")
    h.write("c1", "k", "k.2")
    h.read("c2", "k", "k.1")
    assert check(FRESH, h.history).status is Status.HOLDS
