"""``bounded-wait``: a client waiting for another's lock or lease waits a bounded time.

The engine records each wait as a ``Wait`` event: who waited, on what and on whom,
from when to when in virtual time, and its bound (the TTL the lock had left when
the wait began, plus one polling interval). A lock with no TTL gives no bound: a
wait on it is fine as long as its holder releases it, and unbounded once the holder
is gone (it crashed, or it waits in turn).
"""

from __future__ import annotations

from cacherace.model import History, Verdict, Wait
from cacherace.properties._writes import t
from cacherace.properties.registry import claim

BOUNDED_WAIT = "bounded-wait"


def _whom(wait: Wait) -> str:
    return f" held by {', '.join(wait.on)}" if wait.on else ""


@claim(
    BOUNDED_WAIT,
    summary="a client waiting for another's lock waits at most the lock's timeout, even"
    " when the holder crashed",
)
def bounded_wait(history: History) -> Verdict:
    """Every wait ends, within its bound.

    Broken when a ``Wait`` event did not end (``ended`` False: no process could go
    on, so the waiter would wait forever: a deadlock when its holders wait in turn,
    a livelock or a lost lock otherwise), or when it lasted (``time - since``) longer
    than its ``bound``. A wait without a bound that ended holds: its holder let go.
    The first such wait is reported.

    Witness: the Wait event, then (for a deadlock) the Wait events of the processes
    it waited for that did not end either.
    """
    stuck: dict[str, Wait] = {}
    for e in history.events:
        if isinstance(e, Wait) and not e.ended:
            stuck[e.process] = e
    for e in history.events:
        if not isinstance(e, Wait):
            continue
        if not e.ended:
            cycle = [stuck[p] for p in e.on if p in stuck and p != e.process]
            if cycle:
                others = "; ".join(f"{w.process} waits for {w.what}{_whom(w)}" for w in cycle)
                why = f"deadlock: {e.process} waits for {e.what}{_whom(e)}, and {others}"
            else:
                why = (
                    f"{e.process} waits for {e.what}{_whom(e)} from t={t(e.since)} on, and"
                    " nothing can release it"
                )
            return Verdict.broken_by(BOUNDED_WAIT, why, e.index, *(w.index for w in cycle))
        if e.bound is not None and e.time - e.since > e.bound + 1e-9:
            return Verdict.broken_by(
                BOUNDED_WAIT,
                f"{e.process} waited {t(e.time - e.since)} s for {e.what}{_whom(e)}"
                f" (t={t(e.since)} to t={t(e.time)}), longer than its bound of {t(e.bound)} s",
                e.index,
            )
    return Verdict.holds(BOUNDED_WAIT)
