"""``ttl-bounded``: staleness is bounded by the strategy's TTL, in virtual time."""

from __future__ import annotations

from cacherace.model import EndState, History, Verdict
from cacherace.model.timeline import Span, Timeline
from cacherace.properties._writes import fmt, ok_reads, t
from cacherace.properties.registry import claim

TTL_BOUNDED = "ttl-bounded"

# Virtual times are float sums; do not call a read stale over rounding noise.
EPSILON = 1e-9


def stale_age(history: History) -> float:
    """How close a history came to breaking ttl-bounded: 0 when no read returned a
    replaced value, else 1 + the largest age (seconds since the replacement, at the
    read's start) of a replaced value some read returned. A break is an age > TTL."""
    timeline = Timeline(history)
    best = 0.0
    for read in ok_reads(history):
        spans = timeline.spans_of(read.key, read.value)
        start = read.invoke
        if spans and all(_replaced_before(s, start.index, start.time + EPSILON) for s in spans):
            replaced = max(s.end.time for s in spans if s.end is not None)
            best = max(best, 1.0 + start.time - replaced)
    return best


@claim(
    TTL_BOUNDED,
    summary="no read returns a value replaced in the database more than TTL ago",
    score=stale_age,
)
def ttl_bounded(history: History) -> Verdict:
    """No ok read returns a value that the database had already replaced more than
    TTL virtual seconds before the read began.

    Uses the reference timeline (``history.initial`` and the ``DbChange`` events;
    a change to the value already held is not a replacement) and ``history.ttl``.
    For an ok read ``r`` of ``k`` returning ``v`` (None: no row, a value like any
    other): each stretch during which ``k`` held ``v`` ended when a change replaced
    it at virtual time ``t_rep``. ``r`` is broken when ``v`` was a database value and
    every such stretch was replaced before ``r`` was invoked with
    ``r.invoke.time > t_rep + ttl`` (strictly, beyond a 1e-9 s float tolerance:
    exactly TTL seconds later holds). A value that was never a database value is not
    this claim's business (see ``fresh-after-ack``); a value still current, or
    current again, holds. Operation outcomes do not matter here: only committed
    changes count, so ``info`` and ``fail`` writes act through what they committed.
    ``ttl`` None: unknown (the strategy sets no TTL).

    Witness: the read's Complete and Invoke, the DbChange that replaced the value,
    and the DbChange that made it current (absent for the initial value).

    The end state counts as a read still to come: once the run has settled
    (``EndState``), nothing else runs, so if the cache still holds a value the
    database replaced at ``t_rep`` and that entry expires only after
    ``t_rep + ttl`` (``EndState.expires``; None: never), a read at
    ``max(end, t_rep + ttl)`` plus a moment would return it: broken. Witness: the
    EndState, the replacing DbChange.
    """
    ttl = history.ttl
    if ttl is None:
        return Verdict.unknown(TTL_BOUNDED, "the strategy sets no TTL")
    timeline = Timeline(history)
    for read in ok_reads(history):
        spans = timeline.spans_of(read.key, read.value)
        start = read.invoke
        if not spans or not all(_replaced_before(s, start.index, start.time - ttl) for s in spans):
            continue
        last = max(spans, key=lambda s: s.start_index)
        assert last.end is not None
        return Verdict.broken_by(
            TTL_BOUNDED,
            f"{read.describe()}, but the database had replaced it with {fmt(last.end.value)}"
            f" at t={t(last.end.time)}, {t(start.time - last.end.time)}s before that read"
            f" began, more than the TTL of {t(ttl)}s",
            *read.witness(),
            last.end.index,
            *(() if last.start is None else (last.start.index,)),
        )
    end = history.end_state()
    if end is not None and end.settled:
        for key, value in sorted(end.cache.items()):
            verdict = _outlives_ttl(timeline, end, key, value, ttl)
            if verdict is not None:
                return verdict
    return Verdict.holds(TTL_BOUNDED)


def _outlives_ttl(
    timeline: Timeline, end: EndState, key: str, value: str | None, ttl: float
) -> Verdict | None:
    """Broken when the settled cache keeps a replaced value beyond TTL after its
    replacement (see :func:`ttl_bounded`)."""
    if value is None:
        return None
    spans = timeline.spans_of(key, value)
    if not spans or not all(s.end is not None and s.end.index < end.index for s in spans):
        return None
    replaced = max((s.end for s in spans if s.end is not None), key=lambda e: e.index)
    expires = end.expires.get(key)
    bound = replaced.time + ttl
    if expires is not None and expires - bound <= EPSILON:
        return None
    until = "never expires" if expires is None else f"expires only at t={t(expires)}"
    return Verdict.broken_by(
        TTL_BOUNDED,
        f"at the end (t={t(end.time)}) the cache holds {key} = {fmt(value)}, which the"
        f" database replaced at t={t(replaced.time)}; the entry {until}, so a read at"
        f" t={t(max(bound, end.time))}+ would return it, more than the TTL of {t(ttl)}s"
        " after it was replaced",
        end.index,
        replaced.index,
    )


def _replaced_before(span: Span, index: int, deadline: float) -> bool:
    """``span`` ended before event ``index``, at a virtual time before ``deadline``."""
    return span.end is not None and span.end.index < index and deadline - span.end.time > EPSILON
