"""End-state claims: ``converges`` and ``durable``, decided on the ``EndState`` event.

The database's final value of a key is ``EndState.db[key]``; a key the end state
does not list falls back to its last committed value on the reference timeline.
"""

from __future__ import annotations

from cacherace.model import EndState, History, Step, Verdict
from cacherace.model.timeline import Timeline
from cacherace.properties._writes import Writes, fmt, t
from cacherace.properties.registry import claim

CONVERGES = "converges"
DURABLE = "durable"


def _settled(name: str, history: History) -> EndState | Verdict:
    end = history.end_state()
    if end is None:
        return Verdict.unknown(name, "the history has no end state yet")
    if not end.settled:
        return Verdict.unknown(name, f"the end state is not settled: {end.reason or 'no reason'}")
    return end


def _db_value(end: EndState, timeline: Timeline, key: str) -> str | None:
    return end.db[key] if key in end.db else timeline.final(key)


@claim(
    CONVERGES,
    end_state=True,
    summary="once everything settles, every cached key holds the database's value or nothing",
)
def converges(history: History) -> Verdict:
    """Once nothing is in flight, queues are drained and faults are healed (the
    ``EndState`` event), every key's cached value is None or equals the database's
    value, without waiting for TTLs.

    No ``EndState``: unknown. ``EndState.settled`` False: unknown, with its reason.
    No key cached at the end: unknown (a claim that observed no cached value does
    not hold; an exploration holds once some example's end had one).
    Keys are checked in sorted order; the first mismatch is reported.

    Witness: the EndState index, then the last Redis step that touched the key (a
    step whose ``keys`` contain the key, or a name ending in it after a separator,
    such as ``cr:k1`` for ``k1``), if any.
    """
    end = _settled(CONVERGES, history)
    if isinstance(end, Verdict):
        return end
    if all(v is None for v in end.cache.values()):
        # Holding on nothing would be a false "holds" (a peek at a key the strategy
        # never writes sees nothing, every time): say so instead.
        return Verdict.unknown(CONVERGES, "nothing was cached at the end: nothing to compare")
    timeline = Timeline(history)
    for key in sorted(end.cache):
        cached, stored = end.cache[key], _db_value(end, timeline, key)
        if cached is None or cached == stored:
            continue
        step = _last_cache_step(history, key)
        by = (
            ""
            if step is None
            else f" (last Redis step on it: {step.process} {step.command} at t={t(step.time)})"
        )
        return Verdict.broken_by(
            CONVERGES,
            f"at the end (t={t(end.time)}) the cache holds {key} = {fmt(cached)}{by},"
            f" but the database holds {fmt(stored)}",
            end.index,
            *(() if step is None else (step.index,)),
        )
    return Verdict.holds(CONVERGES)


def _last_cache_step(history: History, key: str) -> Step | None:
    for e in reversed(history.events):
        if isinstance(e, Step) and e.target == "redis" and any(_names(k, key) for k in e.keys):
            return e
    return None


def _names(cache_key: str, key: str) -> bool:
    """``cache_key`` is ``key`` or ends in it after a non-alphanumeric separator."""
    if cache_key == key:
        return True
    return cache_key.endswith(key) and not cache_key[-len(key) - 1].isalnum()


@claim(
    DURABLE,
    end_state=True,
    summary="every acknowledged write (or a later one) is in the database at the end",
)
def durable(history: History) -> Verdict:
    """Every acknowledged write, or a later write of the same key, is in the
    database at the end.

    For each key ``k`` (listed in the end state's ``db`` or written by some
    operation) with final database value ``f``: let ``A`` be the ok writes of ``k``.
    ``f`` must be the value of a write ``x`` that ended ``ok`` or ``info`` or is
    still in flight (never ``fail``: an aborted write in the database is broken too),
    or the initial value, such that ``x`` precedes no write in ``A``. With ``A``
    empty, any such value (including the initial one) holds; the initial value
    precedes every real write, so it holds only when ``A`` is empty.
    No ``EndState``: unknown; ``settled`` False: unknown, with its reason.

    Witness: the EndState index, the Complete of the lost acknowledged write (the
    ok write invoked last, when ``A`` is not empty), and the Complete of the write of
    ``f`` if it is a real, completed write.
    """
    end = _settled(DURABLE, history)
    if isinstance(end, Verdict):
        return end
    writes = Writes(history)
    timeline = Timeline(history)
    for key in sorted(set(end.db) | writes.keys()):
        final = _db_value(end, timeline, key)
        latest = writes.latest_acked(key)
        sources = writes.sources(key, final)
        if any(not x.failed and not x.precedes(latest) for x in sources):
            continue
        held = f"at the end (t={t(end.time)}) the database holds {key} = {fmt(final)}"
        live = [x for x in sources if not x.failed]
        old = max(live or sources, key=lambda x: x.end, default=None)
        if old is None:
            why = "which no write wrote"
        elif old.failed:
            why = f"written by {old.describe()}, which failed"
        elif old.initial:
            why = "the initial value"
        else:
            why = f"from {old.describe()}, which completed before it began"
        lost = (
            f"{held}, {why}"
            if latest.initial
            else f"{latest.describe()} to {key}, acknowledged at t={latest.end_t}, is lost:"
            f" {held}, {why}"
        )
        return Verdict.broken_by(
            DURABLE,
            lost,
            end.index,
            *(() if latest.complete is None else (latest.complete,)),
            *(() if old is None or old.complete is None else (old.complete,)),
        )
    return Verdict.holds(DURABLE)
