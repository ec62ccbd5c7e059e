"""``fresh-after-ack`` and ``no-aborted-reads``: what a single read may return."""

from __future__ import annotations

from cacherace.model import DbChange, History, Verdict
from cacherace.properties._writes import Read, Write, Writes, fmt, ok_reads
from cacherace.properties.registry import claim

FRESH = "fresh-after-ack"
NO_ABORTED = "no-aborted-reads"


@claim(FRESH, summary="no read returns a value older than the latest write acknowledged before it")
def fresh_after_ack(history: History) -> Verdict:
    """No ok read returns a value older than the latest write acknowledged before
    that read began.

    For an ok read ``r`` of key ``k`` returning ``v``, let ``A`` be the ok writes of
    ``k`` that precede ``r`` (completed before ``r`` was invoked) plus the virtual
    initial write. ``r`` is broken when

    - no write of ``k`` wrote ``v`` and ``v`` is not ``k``'s initial value
      (None counts as a value: a read of nothing when the row existed is broken);
    - every write of ``v`` ended ``fail`` (an aborted write never happened);
    - every write ``x`` of ``v`` that did not fail precedes some ``y`` in ``A``
      (``x`` completed before ``y`` was invoked; the initial value precedes every
      real write).

    - or, by database commit order: every write ``x`` of ``v`` that did not fail
      committed before the latest-committed write ``y`` in ``A`` did. A write's
      commit is the first database change of its key to its value after its
      invoke (the engine's timeline, ``DbChange`` events); the initial value
      committed before everything.

    ``info`` writes and writes still in flight may take effect at any time after
    their invoke, even after their completion, so reading their value is allowed
    unless they precede some ``y`` in ``A`` or committed before it (their end is
    the index of their Complete; in flight: never). Writes that overlap in real
    time are ordered by their commits when the timeline shows both (two writers
    whose cache updates cross leave the older commit in the cache: stale); with
    no commit seen for one of them they are unordered, and either value is
    fresh. Reads that end ``fail``/``info`` or are in flight, and
    actor operations, are ignored. Checking is done per read in completion order;
    the first broken read is reported.

    Witness: the read's Complete and Invoke indexes, then for a stale value the
    ignored acknowledged write's Complete and (if not the initial value) the stale
    value's write's Complete; for an aborted value the failed write's Complete; for a
    value never written the latest acknowledged write's Complete, if any.
    """
    writes = Writes(history)
    commits = _Commits(history)
    for read in ok_reads(history):
        verdict = _check_fresh(read, writes, commits)
        if verdict is not None:
            return verdict
    return Verdict.holds(FRESH)


class _Commits:
    """Each write's commit (index of its DbChange), and per key the acknowledged
    writes in completion order, for "latest committed among those acknowledged"."""

    def __init__(self, history: History) -> None:
        self._changes: dict[tuple[str, str | None], list[int]] = {}
        for e in history.events:
            if isinstance(e, DbChange):
                self._changes.setdefault((e.key, e.value), []).append(e.index)
        self._acked: dict[str, list[Write]] = {}
        for op in history.operations("write"):
            c = op.complete
            if op.key is not None and c is not None and c.type.value == "ok":
                w = Write(op.key, op.invoke.value, op.process, op.invoke.index, c.index,
                          op.invoke.time, c.time, c.type)  # fmt: skip
                self._acked.setdefault(op.key, []).append(w)

    def of(self, w: Write) -> int | None:
        if w.initial:
            return -1
        return next((i for i in self._changes.get((w.key, w.value), ()) if i > w.invoke), None)

    def latest_before(self, key: str, index: int) -> Write | None:
        """Of the ok writes of ``key`` that ended before ``index``, the one whose
        commit came last (None: no such write has a commit on the timeline)."""
        best: tuple[int, Write] | None = None
        for w in self._acked.get(key, ()):
            at = self.of(w) if w.end < index else None
            if at is not None and (best is None or at > best[0]):
                best = (at, w)
        return None if best is None else best[1]


def _check_fresh(read: Read, writes: Writes, commits: _Commits) -> Verdict | None:
    latest = writes.latest_acked_before(read.key, read.invoke.index)
    sources = writes.sources(read.key, read.value)
    live = [x for x in sources if not x.failed]
    if not sources:
        after = "" if latest.initial else f" ({latest.describe()} was acknowledged before it)"
        return Verdict.broken_by(
            FRESH,
            f"{read.describe()}, a value no write of {read.key} ever wrote{after}",
            *read.witness(),
            *_opt(latest.complete),
        )
    if not live:
        failed = sources[-1]
        return Verdict.broken_by(
            FRESH,
            f"{read.describe()}, but {failed.describe()} failed"
            f" (t={failed.end_t}), so that value was aborted and never written",
            *read.witness(),
            failed.end,
        )
    if any(not x.precedes(latest) for x in live):
        # Not stale in real time; by commit order, when the timeline shows it?
        committed = commits.latest_before(read.key, read.invoke.index)
        at = None if committed is None else commits.of(committed)
        if at is None or any(not x.acked or (c := commits.of(x)) is None or c >= at for x in live):
            return None
        latest = committed  # type: ignore[assignment]
        stale = max(live, key=lambda x: commits.of(x) or -1)
        return Verdict.broken_by(
            FRESH,
            f"{read.describe()}, but {latest.describe()} was acknowledged"
            f" (t={latest.end_t}) before that read began, and the database committed"
            f" {stale.describe() if not stale.initial else fmt(read.value)} before it",
            *read.witness(),
            latest.end,
            *_opt(stale.complete),
        )
    stale = max(live, key=lambda x: x.end)
    came = (
        f"{fmt(read.value)} is the initial value"
        if stale.initial
        else f"{stale.describe()} had completed before that write began"
    )
    return Verdict.broken_by(
        FRESH,
        f"{read.describe()}, but {latest.describe()} was acknowledged"
        f" (t={latest.end_t}) before that read began, and {came}",
        *read.witness(),
        latest.end,
        *_opt(stale.complete),
    )


@claim(NO_ABORTED, summary="no read returns a value whose write failed")
def no_aborted_reads(history: History) -> Verdict:
    """No ok read returns a value whose write ended ``fail``.

    An ok read of ``k`` returning ``v`` is broken when at least one write of ``v``
    to ``k`` exists and every such write (and not the initial value) ended ``fail``.
    ``info`` and in-flight writes may have taken effect, so their values are
    allowed; values no write wrote are not this claim's business (see
    ``fresh-after-ack``). A read may return a failed write's value before that write
    completes: it is broken once the ``fail`` is recorded.

    Witness: the read's Complete and Invoke indexes, the failed write's Complete.
    """
    writes = Writes(history)
    for read in ok_reads(history):
        sources = writes.sources(read.key, read.value)
        if sources and all(x.failed for x in sources):
            failed = sources[-1]
            return Verdict.broken_by(
                NO_ABORTED,
                f"{read.describe()}, but {failed.describe()} to {read.key} failed"
                f" (t={failed.end_t}) and must have had no effect",
                *read.witness(),
                failed.end,
            )
    return Verdict.holds(NO_ABORTED)


def _opt(index: int | None) -> tuple[int, ...]:
    return () if index is None else (index,)
