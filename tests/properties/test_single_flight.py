"""single-flight on hand-made histories."""

from __future__ import annotations

from cacherace.model import Status
from cacherace.properties import check

from .builders import H

SF = "single-flight"
SELECT = "SELECT value FROM cacherace_items WHERE key = %s [k1]"


def test_two_overlapping_fills_are_broken() -> None:
    h = H(initial={"k1": "k1.0"})
    a = h.invoke("c0", "read", "k1")
    h.step("c0", "redis", "GET cr:k1", "cr:k1")
    first = h.step("c0", "postgres", SELECT)
    b = h.invoke("c1", "read", "k1")
    h.step("c1", "redis", "GET cr:k1", "cr:k1")
    second = h.step("c1", "postgres", SELECT)
    h.ok("c0", "k1.0")
    h.ok("c1", "k1.0")
    v = check(SF, h.history)
    assert v.status is Status.BROKEN
    assert v.witness == (second, first, a, b)
    assert "c1's read of k1 read the database" in v.reason
    assert "while c0's read of k1 was filling it" in v.reason


def test_a_read_after_the_fill_ended_holds() -> None:
    h = H(initial={"k1": "k1.0"})
    h.invoke("c0", "read", "k1")
    h.step("c0", "postgres", SELECT)
    h.step("c0", "redis", "SET cr:k1 k1.0", "cr:k1")
    h.ok("c0", "k1.0")
    h.invoke("c1", "read", "k1")
    h.step("c1", "postgres", SELECT)
    h.ok("c1", "k1.0")
    assert check(SF, h.history).status is Status.HOLDS


def test_a_waiter_that_reads_the_cache_holds() -> None:
    h = H(initial={"k1": "k1.0"})
    h.invoke("c0", "read", "k1")
    h.step("c0", "postgres", SELECT)
    h.invoke("c1", "read", "k1")
    h.step("c1", "redis", "SET lock:k1 t NX", "lock:k1")  # waits: no database read
    h.ok("c0", "k1.0")
    h.step("c1", "redis", "GET cr:k1", "cr:k1")
    h.ok("c1", "k1.0")
    assert check(SF, h.history).status is Status.HOLDS


def test_other_keys_writes_and_setup_statements_do_not_count() -> None:
    h = H(initial={"k1": "k1.0", "k2": "k2.0"})
    h.invoke("c0", "read", "k1")
    h.step("c0", "postgres", SELECT)
    h.invoke("c1", "read", "k2")
    h.step("c1", "postgres", "SELECT value FROM cacherace_items WHERE key = %s [k2]")
    h.ok("c1", "k2.0")
    h.invoke("c1", "write", "k1", "k1.1")
    h.step("c1", "postgres", "SELECT 1")  # a write's statements are not fills
    h.ok("c1")
    h.invoke("c2", "read", "k1")
    h.step("c2", "postgres", "SET TIME ZONE 'UTC'")  # connection set-up, not a read
    h.ok("c2", "k1.0")
    h.ok("c0", "k1.0")
    assert check(SF, h.history).status is Status.HOLDS


def test_a_crashed_filler_no_longer_fills() -> None:
    h = H(initial={"k1": "k1.0"})
    h.invoke("c0", "read", "k1")
    h.step("c0", "postgres", SELECT)
    h.fault("client-crash", "c0")
    h.info("c0", "client crashed")
    h.invoke("c1", "read", "k1")
    h.step("c1", "postgres", SELECT)
    h.ok("c1", "k1.0")
    assert check(SF, h.history).status is Status.HOLDS


def test_one_client_reading_twice_is_one_fill() -> None:
    h = H(initial={"k1": "k1.0"})
    h.invoke("c0", "read", "k1")
    h.step("c0", "postgres", SELECT)
    h.step("c0", "postgres", SELECT)
    h.ok("c0", "k1.0")
    assert check(SF, h.history).status is Status.HOLDS
