"""Session guarantees, per client: ``read-your-writes`` and ``monotonic-reads``.

Both compare the position of writes, not their outcome: a read of a failed
write's value is ``no-aborted-reads``' business, a value nobody wrote
``fresh-after-ack``'s. "v is older than write w" means every write of v (any
outcome) precedes w, i.e. completed before w was invoked; the initial value
precedes every real write. Writes still in flight never precede anything.
"""

from __future__ import annotations

from cacherace.model import Complete, History, Invoke, Outcome, Verdict
from cacherace.properties._writes import Read, Write, Writes, fmt, ok_reads, t
from cacherace.properties.registry import claim

RYW = "read-your-writes"
MONOTONIC = "monotonic-reads"


@claim(RYW, summary="a client reads its own acknowledged write of a key, or a newer value")
def read_your_writes(history: History) -> Verdict:
    """After a client's write of a key is acknowledged, that client's later reads
    of the key return that value or a newer one.

    For an ok read ``r`` of ``k`` by client ``c``, let ``w`` be ``c``'s latest ok
    write of ``k`` that completed before ``r`` was invoked (none: nothing to check).
    ``r`` returning ``v`` is broken when ``v`` is older than ``w``: every write of
    ``v`` precedes ``w`` (the initial value always does), or no write ever wrote
    ``v`` and it is not the initial value. ``c``'s ``info`` and ``fail`` writes do
    not set ``w`` (they were not acknowledged); a value written by a write that
    overlaps or follows ``w`` (any outcome) is not older, so it is allowed.

    Witness: the read's Complete and Invoke, ``w``'s Complete, and the stale value's
    write's Complete when that is a real, completed write.
    """
    writes = Writes(history)
    reads = {r.complete.index: r for r in ok_reads(history)}
    own: dict[tuple[str, str], Write] = {}  # (client, key) -> its latest acked write
    due: dict[tuple[str, int], Write] = {}  # read in flight -> the write it must see
    for e in history.events:
        if isinstance(e, Invoke) and e.f == "read" and e.key is not None:
            if (w := own.get((e.process, e.key))) is not None:
                due[(e.process, e.op)] = w
        elif isinstance(e, Complete) and e.f == "write" and e.type is Outcome.OK:
            if (w := writes.ended_at(e.index)) is not None:
                own[(e.process, w.key)] = w
        elif isinstance(e, Complete) and e.index in reads:
            w = due.pop((e.process, e.op), None)
            if w is not None and (verdict := _check_own(reads[e.index], w, writes)):
                return verdict
    return Verdict.holds(RYW)


def _check_own(read: Read, w: Write, writes: Writes) -> Verdict | None:
    sources = writes.sources(read.key, read.value)
    if not all(x.precedes(w) for x in sources):
        return None
    stale = max(sources, key=lambda x: x.end, default=None)
    if stale is None:
        why = "no write ever wrote that value"
    elif stale.initial:
        why = "that is the initial value"
    else:
        why = f"{stale.describe()} completed before it began"
    return Verdict.broken_by(
        RYW,
        f"{read.describe()}, older than its own write of {fmt(w.value)}"
        f" acknowledged at t={w.end_t}: {why}",
        *read.witness(),
        w.end,
        *(() if stale is None or stale.complete is None else (stale.complete,)),
    )


@claim(MONOTONIC, summary="a client never reads an older value of a key than it read before")
def monotonic_reads(history: History) -> Verdict:
    """Once a client has read a value of a key, its later reads of that key never
    return an older value.

    For ok reads ``r1`` then ``r2`` of ``k`` by the same client (``r1`` any earlier
    ok read, not only the previous one), returning ``v1`` and ``v2``: broken when
    every write of ``v2`` precedes every write of ``v1`` (values are unique, so
    normally one write each; the initial value is the oldest). Equal values, values
    of overlapping writes, and values no write wrote (not comparable: that is
    ``fresh-after-ack``'s business) are allowed. Writes of any outcome count by
    their position; ``info``/in-flight writes never end before anything.

    Witness: ``r2``'s Complete and Invoke, then ``r1``'s Complete.
    """
    writes = Writes(history)
    # (client, key) -> the earlier read whose value's write was invoked last, and
    # that write: anything that precedes it is older than something already seen.
    seen: dict[tuple[str, str], tuple[Read, Write]] = {}
    for read in ok_reads(history):
        sources = writes.sources(read.key, read.value)
        if not sources:
            continue
        slot = (read.process, read.key)
        if slot in seen:
            before, newest = seen[slot]
            if all(x.precedes(newest) for x in sources):
                stale = max(sources, key=lambda x: x.end)
                return Verdict.broken_by(
                    MONOTONIC,
                    f"{read.describe()}, older than {fmt(before.value)} which it read"
                    f" at t={t(before.invoke.time)}: {stale.describe()} completed"
                    f" before {newest.describe()} began",
                    *read.witness(),
                    before.complete.index,
                )
        first = min(sources, key=lambda x: x.invoke)  # the weakest bound if duplicated
        if slot not in seen or first.invoke > seen[slot][1].invoke:
            seen[slot] = (read, first)
    return Verdict.holds(MONOTONIC)
