"""A hand-made history with one of each kind of event, for report tests."""

from __future__ import annotations

from cacherace.model import (
    Complete,
    DbChange,
    EndState,
    Fault,
    History,
    Invoke,
    Outcome,
    Step,
    TimeAdvance,
    Verdict,
)

# Indexes the tests refer to.
STALE_SET = 8
STALE_READ = 11


def stale_set_history() -> History:
    """The article's race, then a fault-marked step, a cache crash and a time advance."""
    h = History(initial={"k1": "k1.0"}, ttl=300)
    events = [
        Invoke(0, 0.0, "c0", 0, "read", "k1"),
        Step(1, 0.0, "c0", 0, "redis", "GET cr:k1", ("cr:k1",), "None"),
        Step(2, 0.0, "c0", 0, "postgres", "SELECT value FROM cacherace_items WHERE key = %s",
             (), "SELECT 1", args=("k1",), rows=(("k1.0",),)),
        Invoke(3, 0.0, "c1", 1, "write", "k1", "k1.1"),
        Step(4, 0.0, "c1", 1, "postgres", "UPDATE cacherace_items SET value = %s WHERE key = %s",
             (), "UPDATE 1", args=("k1.1", "k1")),
        DbChange(5, 0.0, "k1", "k1.1", step=4),
        Step(6, 0.0, "c1", 1, "redis", "DEL cr:k1", ("cr:k1",), "0"),
        Complete(7, 0.0, "c1", 1, "write", "k1", Outcome.OK),
        Step(STALE_SET, 0.0, "c0", 0, "redis", "SET cr:k1 k1.0 EX 300", ("cr:k1",), "True"),
        Complete(9, 0.0, "c0", 0, "read", "k1", Outcome.OK, "k1.0"),
        Invoke(10, 0.0, "c1", 2, "read", "k1"),
        Complete(STALE_READ, 0.0, "c1", 2, "read", "k1", Outcome.OK, "k1.0"),
        Invoke(12, 0.0, "c0", 3, "write", "k1", "k1.2"),
        Fault(13, 0.0, "fail-after", process="c0", detail="SET cr:k1 k1.2"),
        Step(14, 0.0, "c0", 3, "redis", "SET cr:k1 k1.2", ("cr:k1",), "True",
             injected="fail-after"),
        Complete(15, 0.0, "c0", 3, "write", "k1", Outcome.INFO,
                 error="ConnectionError: cacherace: injected connection failure"),
        Fault(16, 0.0, "cache-crash", detail="none"),
        Fault(17, 0.0, "cache-restart", detail="kept 0 keys"),
        TimeAdvance(18, 301.0, 301.0, ("cr:k1",)),
        EndState(19, 301.0, cache={"k1": None}, db={"k1": "k1.1"}),
    ]  # fmt: skip
    for e in events:
        h.append(e)
    return h


def stale_read_verdict() -> Verdict:
    return Verdict.broken_by(
        "fresh-after-ack",
        "c1 read k1 = 'k1.0' after the write of 'k1.1' was acknowledged",
        STALE_READ,
        7,
        STALE_SET,
    )
