"""available-without-cache on hand-made histories."""

from __future__ import annotations

from cacherace.model import Status
from cacherace.properties import check

from .builders import H

AVAIL = "available-without-cache"


def test_failed_read_while_the_cache_is_down_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.read("c0", "k", "k.0")
    h.advance(1)
    crash = h.fault("cache-crash")
    h.advance(1)
    ri = h.invoke("c1", "read", "k")
    h.step("c1", "redis", "GET cr:k", "cr:k")
    rc = h.fail("c1", "ConnectionError: Connection refused")
    v = check(AVAIL, h.history)
    assert v.broken and v.witness == (rc, ri, crash)
    assert v.reason == (
        "c1's read of k (t=2) failed (ConnectionError: Connection refused) at t=2"
        " while the cache was down (crashed at t=1, not yet restarted)"
    )


def test_info_write_while_the_cache_is_down_is_broken() -> None:
    h = H(initial={"k": "k.0"})
    h.fault("cache-crash")
    h.invoke("c0", "write", "k", "k.1")
    h.info("c0")
    v = check(AVAIL, h.history)
    assert v.broken and "c0's write of k = 'k.1'" in v.reason
    assert "ended with an unknown outcome" in v.reason


def test_successful_operations_while_down_hold() -> None:
    h = H(initial={"k": "k.0"})
    h.fault("cache-crash")
    h.write("c0", "k", "k.1")
    h.read("c1", "k", "k.1")
    h.fault("cache-restart")
    h.invoke("c1", "read", "k")
    h.fail("c1")  # the cache is back: not this claim's business
    v = check(AVAIL, h.history)
    assert v.status is Status.HOLDS and "2 reads/writes" in v.reason


def test_never_down_is_unknown() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c1", "read", "k")
    h.fail("c1")
    v = check(AVAIL, h.history)
    assert v.status is Status.UNKNOWN and v.reason == "the cache was never down"


def test_operations_straddling_the_down_interval_are_not_judged() -> None:
    h = H(initial={"k": "k.0"})
    h.invoke("c0", "read", "k")  # began before the crash
    h.fault("cache-crash")
    h.invoke("c1", "write", "k", "k.1")  # ends after the restart
    h.fail("c0")
    h.fault("cache-restart")
    h.fail("c1")
    h.fault("cache-crash")
    h.invoke("c2", "read", "k")  # in flight at the end
    v = check(AVAIL, h.history)
    assert v.status is Status.UNKNOWN and "no read or write ran entirely" in v.reason


def test_crash_restart_crash_is_two_intervals() -> None:
    h = H(initial={"k": "k.0"})
    h.fault("cache-crash")
    h.invoke("c0", "read", "k")
    h.fault("cache-restart")
    h.fault("cache-crash")
    h.fail("c0")
    assert check(AVAIL, h.history).status is Status.UNKNOWN


def test_second_crash_while_down_keeps_the_interval() -> None:
    h = H(initial={"k": "k.0"})
    first = h.fault("cache-crash")
    ri = h.invoke("c0", "read", "k")
    h.fault("cache-crash")
    rc = h.fail("c0")
    assert check(AVAIL, h.history).witness == (rc, ri, first)


def test_client_crash_db_down_and_injected_db_faults_excuse_a_failure() -> None:
    h = H(initial={"k": "k.0"})
    h.fault("cache-crash")
    h.invoke("c0", "write", "k", "k.1")
    h.fault("client-crash", process="c0")
    h.info("c0", "client crashed")
    h.invoke("c1", "read", "k")
    h.fault("db-crash")
    h.fault("db-restart")
    h.fail("c1")
    h.fault("db-crash")
    h.invoke("c2", "read", "k")  # began while the database was down
    h.fault("db-restart")
    h.fail("c2")
    h.invoke("c3", "read", "k")
    h.step("c3", "postgres", "SELECT ...", injected="fail-before")
    h.fail("c3")
    h.read("c0", "k", "k.0")
    assert check(AVAIL, h.history).status is Status.HOLDS
    # a client crash of another process excuses nothing
    h.invoke("c1", "read", "k")
    h.fault("client-crash", process="c2")
    h.fail("c1")
    assert check(AVAIL, h.history).broken


def test_actor_operations_are_ignored() -> None:
    h = H()
    h.fault("cache-crash")
    h.invoke("a0", "flush")
    h.fail("a0")
    assert check(AVAIL, h.history).status is Status.UNKNOWN


def test_a_paused_database_excuses_a_failure_as_a_crashed_one_does() -> None:
    h = H(initial={"k": "k.0"})
    h.fault("cache-crash")
    h.fault("db-pause")
    h.invoke("c0", "read", "k")  # began while the database was paused
    h.fail("c0", "cannot connect: connection timeout expired")
    h.invoke("c1", "read", "k")
    h.fault("db-resume")
    h.fail("c1")
    h.read("c0", "k", "k.0")
    assert check(AVAIL, h.history).status is Status.HOLDS
    h.invoke("c1", "read", "k")  # after the resume: nothing excuses it
    h.fail("c1")
    assert check(AVAIL, h.history).broken
