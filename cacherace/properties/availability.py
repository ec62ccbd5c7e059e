"""``available-without-cache``: reads and writes still succeed while Redis is down."""

from __future__ import annotations

from dataclasses import dataclass

from cacherace.model import Complete, Fault, History, Invoke, Outcome, Step, Verdict
from cacherace.properties._writes import fmt, t
from cacherace.properties.registry import claim

AVAILABLE = "available-without-cache"


@dataclass
class _Pending:
    invoke: Invoke
    down: Fault | None  # the cache-crash whose down interval the op began in
    excused: bool = False  # something other than the cache may explain a failure


@claim(AVAILABLE, summary="with the cache down, reads and writes still succeed")
def available_without_cache(history: History) -> Verdict:
    """With the cache down, reads and writes still succeed.

    The cache is down from a ``cache-crash`` fault to the next ``cache-restart``
    (or the end of the history; a second crash while down does not start a new
    interval). A read or write whose invoke and complete both lie in the same down
    interval and that ended ``fail`` or ``info`` is broken, unless something other
    than the cache may explain it:

    - the client crashed while it ran (a ``client-crash`` fault for its process
      between its invoke and its complete);
    - the database was down or paused at any point while it ran (``db-crash`` to
      ``db-restart``, ``db-pause`` to ``db-resume``);
    - a driver-call fault was injected into one of its PostgreSQL steps
      (``Step.injected``).

    Operations still in flight, actor operations, and operations that began before
    the crash or ended after the restart are not judged. Unknown when the cache was
    never down, or when no read or write ran entirely while it was down (nothing
    was tested).

    Witness: the operation's Complete and Invoke, then the ``cache-crash`` fault.
    """
    down: Fault | None = None
    db_down = False
    ever_down = False
    judged = 0
    pending: dict[tuple[str, int], _Pending] = {}
    for e in history.events:
        if isinstance(e, Fault):
            if e.fault == "cache-crash" and down is None:
                down, ever_down = e, True
            elif e.fault == "cache-restart":
                down = None
            elif e.fault in ("db-crash", "db-pause"):
                db_down = True
                for running in pending.values():
                    running.excused = True
            elif e.fault in ("db-restart", "db-resume"):
                db_down = False
            elif e.fault == "client-crash":
                for (process, _), crashed in pending.items():
                    crashed.excused |= process == e.process
        elif isinstance(e, Invoke) and e.f in ("read", "write"):
            pending[(e.process, e.op)] = _Pending(e, down, excused=db_down)
        elif isinstance(e, Step) and e.target == "postgres" and e.injected and e.op is not None:
            if (faulted := pending.get((e.process, e.op))) is not None:
                faulted.excused = True
        elif isinstance(e, Complete) and (p := pending.pop((e.process, e.op), None)):
            if p.down is None or p.down is not down or p.excused:
                continue
            judged += 1
            if e.type is not Outcome.OK:
                return Verdict.broken_by(
                    AVAILABLE, _reason(p, e), e.index, p.invoke.index, p.down.index
                )
    if not ever_down:
        return Verdict.unknown(AVAILABLE, "the cache was never down")
    if not judged:
        return Verdict.unknown(
            AVAILABLE, "the cache was down, but no read or write ran entirely while it was down"
        )
    return Verdict.holds(AVAILABLE, f"{judged} reads/writes ran while the cache was down")


def _reason(p: _Pending, e: Complete) -> str:
    inv = p.invoke
    what = f"read of {inv.key}" if inv.f == "read" else f"write of {inv.key} = {fmt(inv.value)}"
    ended = "failed" if e.type is Outcome.FAIL else "ended with an unknown outcome"
    error = f" ({e.error})" if e.error else ""
    assert p.down is not None
    return (
        f"{inv.process}'s {what} (t={t(inv.time)}) {ended}{error} at t={t(e.time)}"
        f" while the cache was down (crashed at t={t(p.down.time)}, not yet restarted)"
    )
