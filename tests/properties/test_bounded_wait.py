"""bounded-wait on hand-made histories."""

from __future__ import annotations

from cacherace.model import Status
from cacherace.properties import check

from .builders import H

BW = "bounded-wait"


def test_a_wait_within_its_bound_holds() -> None:
    h = H()
    h.invoke("c1", "read", "k1")
    h.advance(5)
    h.wait("c1", "lock _lock:k1", "c0", since=0.0, bound=5.1)
    h.ok("c1", "k1.0")
    assert check(BW, h.history).status is Status.HOLDS


def test_a_wait_past_its_bound_is_broken() -> None:
    h = H()
    h.invoke("c1", "read", "k1")
    h.advance(12)
    w = h.wait("c1", "lock _lock:k1", "c0", since=1.0, bound=10.1)
    h.ok("c1", "k1.0")
    v = check(BW, h.history)
    assert v.status is Status.BROKEN and v.witness == (w,)
    assert "c1 waited 11 s for lock _lock:k1 held by c0" in v.reason
    assert "longer than its bound of 10.1 s" in v.reason


def test_an_unbounded_wait_that_ended_holds() -> None:
    h = H()
    h.invoke("c1", "read", "k1")
    h.advance(300)
    h.wait("c1", "lock _lock:k1", "c0", since=0.0, bound=None)
    h.ok("c1", "k1.0")
    assert check(BW, h.history).status is Status.HOLDS


def test_a_wait_that_never_ends_is_broken() -> None:
    h = H()
    h.invoke("c1", "read", "k1")
    w = h.wait("c1", "lock _lock:k1", "c0", since=0.0, ended=False)
    v = check(BW, h.history)
    assert v.status is Status.BROKEN and v.witness == (w,)
    assert "c1 waits for lock _lock:k1 held by c0 from t=0 on" in v.reason
    assert "nothing can release it" in v.reason


def test_two_processes_waiting_for_each_other_are_a_deadlock_naming_both() -> None:
    h = H()
    h.invoke("c0", "write", "k1", "k1.1")
    h.invoke("c1", "write", "k2", "k2.1")
    a = h.wait("c0", "lock B", "c1", since=0.0, ended=False)
    b = h.wait("c1", "lock A", "c0", since=0.0, ended=False)
    v = check(BW, h.history)
    assert v.status is Status.BROKEN and v.witness == (a, b)
    assert v.reason == (
        "deadlock: c0 waits for lock B held by c1, and c1 waits for lock A held by c0"
    )


def test_no_waits_hold() -> None:
    h = H()
    h.read("c0", "k1", "k1.0")
    assert check(BW, h.history).status is Status.HOLDS


def test_wait_events_round_trip_through_json() -> None:
    from cacherace.model import History

    h = H()
    h.invoke("c1", "read", "k1")
    h.wait("c1", "lock _lock:k1", "c0", "c2", since=1.5, bound=10.0, ended=False)
    again = History.from_json(h.history.to_json())
    assert again.events == h.history.events
