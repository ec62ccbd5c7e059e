"""``ttl-bounded``: staleness is bounded by the strategy's TTL, in virtual time."""

from __future__ import annotations

from cacherace.model import History, Verdict
from cacherace.model.timeline import Span, Timeline
from cacherace.properties._writes import fmt, ok_reads, t
from cacherace.properties.registry import claim

TTL_BOUNDED = "ttl-bounded"

# Virtual times are float sums; do not call a read stale over rounding noise.
EPSILON = 1e-9


@claim(TTL_BOUNDED, summary="no read returns a value replaced in the database more than TTL ago")
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
    return Verdict.holds(TTL_BOUNDED)


def _replaced_before(span: Span, index: int, deadline: float) -> bool:
    """``span`` ended before event ``index``, at a virtual time before ``deadline``."""
    return span.end is not None and span.end.index < index and deadline - span.end.time > EPSILON
