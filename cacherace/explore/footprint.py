"""What one transition of a schedule touches, and when two transitions commute.

A *transition* is what the systematic explorer chooses at each point: one process
starting its operation, taking one driver call (with a client fault attached, or
crashing instead), or the nemesis acting (time advance, eviction, a server crash
or restart). Its *footprint* is read from the history events the transition
appended, so it is what really happened, not a guess:

- the server resources each driver call used: ``("redis", key)`` for every Redis
  key a command names, ``("postgres", item key)`` for the catalog key a statement's
  parameters name (no key found: every row), each marked read-only or not;
- which history markers it recorded: an operation's invoke (``I``), its completion
  (``C``), a committed database change (``D``).

Two transitions of different processes are *independent* (they commute: running
them in either order from the same state gives the same state and the same
history up to the positions of their own events) when

1. no resource is used by both unless both only read it (Redis reads of a key, two
   plain SELECTs): servers are linearizable, and reads do not change state;
2. their markers do not order operations against each other: an invoke against a
   completion or a database change, a completion against a database change, two
   database changes. The claims read real-time order only as "x completed before
   y was invoked" and "the database changed before y was invoked or completed";
   the order of two invokes or two completions of different processes changes no
   claim's verdict (only which of two stale reads a witness names first), and
   actors' operations are not read at all (the convention every claim of
   ``cacherace.properties`` follows: reads and writes are the client operations);
3. neither is a nemesis transition, which changes what everything after it sees
   (virtual time, cache contents, server liveness) and so is dependent with all,
   except a time advance under rule 5;
4. neither touched another process (a statement another process waited on ended
   inside it): waking a process changes what is enabled.
5. a time advance and a process's transition commute when the transition did
   not depend on virtual time (:class:`TimeWatch`): it read no clock, changed no
   key deadline and named no Redis key that has one (an advance expires those),
   nobody waited, slept or spun around it (waits end, sleeps and spins are timed
   in virtual time), and it recorded no event whose time a claim under search
   reads. Of the catalog's claims only ``ttl-bounded`` reads times: those of
   reads' invokes and of database changes (and deadlines, rule 5's own); with any
   other claim (``bounded-wait``, a user's) an advance stays dependent with all.
   Moved across such a transition an advance expires the same keys, and the
   transition does the same; only the times stamped on its events differ, which
   no claim's verdict reads. While a client-side cache tracks keys, every
   transition counts as timed: an advance delivers the invalidations in flight.
6. a delivery (invalidations reaching a client-side cache) is the network's
   transition, dependent with all, like the nemesis's; so is any transition
   that made Redis push an invalidation to another process's client-side cache
   (a write that cache tracks): it changed what that cache serves next, which no
   key of its own footprint says (``Invalidations.moved``, read by the
   systematic explorer). Applying held pushes inside a process's own step (a
   reply read behind them) changes only its own cache, which only its own
   transitions and deliveries read.

Same-process transitions are always dependent. Independence of footprints is
symmetric and checked on footprints observed in real runs; the engine is
deterministic, so a transition's footprint is the same in every run that reaches
it by an equivalent prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cacherace.engine.drivers.calls import POSTGRES, REDIS
from cacherace.model.history import (
    Complete,
    DbChange,
    Delivery,
    Event,
    Invoke,
    Step,
    TimeAdvance,
    Wait,
)

#: Redis commands that only read (the ones the catalog and common libraries use).
_REDIS_READS = frozenset(
    {"GET", "MGET", "EXISTS", "TTL", "PTTL", "STRLEN", "HGET", "HGETALL", "HMGET",
     "LRANGE", "LLEN", "SMEMBERS", "SISMEMBER", "ZRANGE", "ZRANGEBYSCORE", "ZSCORE",
     "ZCARD", "XLEN", "XRANGE", "TYPE", "GETRANGE"}
)  # fmt: skip
_SQL_READS = ("SELECT", "SHOW", "VALUES", "TABLE", "EXPLAIN")
ALL_ROWS = "*"
#: The process name of a time advance's footprint.
ADVANCE = "@advance"

#: The operations claims read (``properties``' convention: actors' are ignored).
_CLIENT_OPS = frozenset({"read", "write"})
#: Markers whose relative order some claim reads (see rule 2 above).
_ORDERED = frozenset({("I", "C"), ("C", "I"), ("I", "D"), ("D", "I"), ("C", "D"),
                      ("D", "C"), ("D", "D")})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Footprint:
    """What a transition of ``process`` touched (``process`` None: the nemesis)."""

    process: str | None
    reads: frozenset[tuple[str, str]] = frozenset()
    writes: frozenset[tuple[str, str]] = frozenset()
    markers: frozenset[str] = frozenset()
    #: dependent with every transition (nemesis, or it touched another process)
    total: bool = False
    #: depends on virtual time: dependent with a time advance (rule 5)
    timed: bool = False


def _sql_keys(step: Step, keys: Sequence[str]) -> tuple[str, ...]:
    """The catalog keys a statement's parameters name (``Step.args``, as the engine
    recorded them); none named: the statement may touch any row. The rows it
    returned cannot narrow this: a read also depends on the rows it did not find."""
    values = set(step.args or ())
    found = tuple(k for k in keys if k in values)
    return found or (ALL_ROWS,)


def _sql_reads_only(command: str) -> bool:
    text = command.lstrip().upper()
    return text.startswith(_SQL_READS) and " FOR " not in text


def of_advance(events: Sequence[Event]) -> Footprint:
    """A time advance's footprint: the keys it expired (rule 5); one that delivered
    invalidations to a client-side cache changed what that client reads next."""
    if any(isinstance(e, Delivery) for e in events):
        return Footprint(None, total=True)
    expired = {(REDIS, k) for e in events if isinstance(e, TimeAdvance) for k in e.expired}
    return Footprint(ADVANCE, writes=frozenset(expired))


def of_events(process: str | None, events: Sequence[Event], keys: Sequence[str],
              timed: bool = True) -> Footprint:  # fmt: skip
    """The footprint of a transition of ``process`` that appended ``events``;
    ``timed``: whether it depended on virtual time (see :class:`TimeWatch`)."""
    if process is None:
        return Footprint(None, total=True)
    reads: set[tuple[str, str]] = set()
    writes: set[tuple[str, str]] = set()
    markers: set[str] = set()
    total = False
    for e in events:
        if isinstance(e, Invoke | Complete | Delivery) and e.process != process:
            total = True
        if isinstance(e, Invoke):
            if e.f in _CLIENT_OPS:
                markers.add("I")
        elif isinstance(e, Complete):
            if e.f in _CLIENT_OPS:
                markers.add("C")
        elif isinstance(e, DbChange):
            markers.add("D")
        elif isinstance(e, Step):
            if e.process != process:
                total = True
            if e.target == REDIS:
                word = e.command.split(" ", 1)[0].upper()
                names = e.keys or (ALL_ROWS,)
                into = reads if word in _REDIS_READS else writes
                into.update((REDIS, k) for k in names)
            elif e.target == POSTGRES:
                into = reads if _sql_reads_only(e.command) else writes
                into.update((POSTGRES, k) for k in _sql_keys(e, keys))
    return Footprint(process, frozenset(reads), frozenset(writes), frozenset(markers), total,
                     timed)  # fmt: skip


def _overlap(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> bool:
    if a & b:
        return True
    wild_a = {t for t, k in a if k == ALL_ROWS}
    wild_b = {t for t, k in b if k == ALL_ROWS}
    return any(t in wild_a for t, _ in b) or any(t in wild_b for t, _ in a)


def independent(a: Footprint, b: Footprint) -> bool:
    """Whether ``a`` and ``b`` commute (rules 1-5 of the module docstring)."""
    if a.total or b.total or a.process is None or b.process is None:
        return False
    if ADVANCE in (a.process, b.process):
        other = b if a.process == ADVANCE else a
        return other.process != ADVANCE and not other.timed
    if a.process == b.process:
        return False
    if any((x, y) in _ORDERED for x in a.markers for y in b.markers):
        return False
    return not (
        _overlap(a.writes, b.writes) or _overlap(a.writes, b.reads) or _overlap(a.reads, b.writes)
    )


#: Claims whose verdicts read no virtual time (only its text), and the one that
#: reads the times of reads' invokes and of database changes (and entry deadlines).
_TIMELESS = frozenset({"fresh-after-ack", "converges", "durable", "available-without-cache",
                       "no-aborted-reads", "read-your-writes", "monotonic-reads",
                       "single-flight", "no-empty-reads"})  # fmt: skip
_READS_TIMES = frozenset({"ttl-bounded"})


class TimeWatch:
    """Tells whether a transition depended on virtual time (rule 5), from the
    engine's state around it: clock reads, the deadline table, waiting processes."""

    def __init__(self, engine: Any, claims: Sequence[str]) -> None:
        self.engine = engine
        names = set(claims)
        #: some claim may read any time (bounded-wait, a user's): advances stay total
        self.off = bool(names - _TIMELESS - _READS_TIMES)
        self.marks = bool(names & _READS_TIMES)
        self._reads = 0
        self._deadlines: dict[str, float] = {}
        self._waits = False

    def _anyone_waits(self) -> bool:
        for p in self.engine.processes.values():
            pace = p.pace
            if p.waiting or pace.sleep_until is not None or pace.wait or pace.spin:
                return True
        return False

    def before(self) -> None:
        self._reads = self.engine.clock.reads
        self._deadlines = self.engine.deadlines.snapshot()
        self._waits = self._anyone_waits()

    def after(self, events: Sequence[Event]) -> bool:
        """Whether the transition since :meth:`before`, which appended ``events``,
        depended on virtual time."""
        deadlines = self.engine.deadlines.snapshot()
        if self.engine.invalidations.tracked:  # an advance delivers what is in flight
            return True
        if (self.off or self._waits or self.engine.clock.reads != self._reads
                or deadlines != self._deadlines or self._anyone_waits()):  # fmt: skip
            return True
        for e in events:
            if isinstance(e, Wait):
                return True
            if isinstance(e, Step) and e.target == REDIS:
                if any(k in deadlines for k in e.keys) or (not e.keys and deadlines):
                    return True
            elif self.marks and (isinstance(e, DbChange)
                                 or (isinstance(e, Invoke) and e.f == "read")):  # fmt: skip
                return True
        return False
