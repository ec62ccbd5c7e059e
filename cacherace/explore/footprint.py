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
   (virtual time, cache contents, server liveness) and so is dependent with all;
4. neither touched another process (a statement another process waited on ended
   inside it): waking a process changes what is enabled.

Same-process transitions are always dependent. Independence of footprints is
symmetric and checked on footprints observed in real runs; the engine is
deterministic, so a transition's footprint is the same in every run that reaches
it by an equivalent prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cacherace.engine.drivers.calls import POSTGRES, REDIS
from cacherace.model.history import Complete, DbChange, Event, Invoke, Step

#: Redis commands that only read (the ones the catalog and common libraries use).
_REDIS_READS = frozenset(
    {"GET", "MGET", "EXISTS", "TTL", "PTTL", "STRLEN", "HGET", "HGETALL", "HMGET",
     "LRANGE", "LLEN", "SMEMBERS", "SISMEMBER", "ZRANGE", "ZRANGEBYSCORE", "ZSCORE",
     "ZCARD", "XLEN", "XRANGE", "TYPE", "GETRANGE"}
)  # fmt: skip
_SQL_READS = ("SELECT", "SHOW", "VALUES", "TABLE", "EXPLAIN")
ALL_ROWS = "*"

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


def _sql_keys(command: str, keys: Sequence[str]) -> tuple[str, ...]:
    """The catalog keys a statement's parameters name (the step text keeps them
    in a trailing ``[p1, p2]``); none found: the statement may touch any row."""
    _, sep, params = command.rpartition(" [")
    if not sep:
        return (ALL_ROWS,)
    values = {p.strip() for p in params.rstrip("]").split(",")}
    found = tuple(k for k in keys if k in values)
    return found or (ALL_ROWS,)


def _sql_reads_only(command: str) -> bool:
    text = command.lstrip().upper()
    return text.startswith(_SQL_READS) and " FOR " not in text


def of_events(process: str | None, events: Sequence[Event], keys: Sequence[str]) -> Footprint:
    """The footprint of a transition of ``process`` that appended ``events``."""
    if process is None:
        return Footprint(None, total=True)
    reads: set[tuple[str, str]] = set()
    writes: set[tuple[str, str]] = set()
    markers: set[str] = set()
    total = False
    for e in events:
        if isinstance(e, Invoke | Complete) and e.process != process:
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
                into.update((POSTGRES, k) for k in _sql_keys(e.command, keys))
    return Footprint(process, frozenset(reads), frozenset(writes), frozenset(markers), total)


def _overlap(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> bool:
    if a & b:
        return True
    wild_a = {t for t, k in a if k == ALL_ROWS}
    wild_b = {t for t, k in b if k == ALL_ROWS}
    return any(t in wild_a for t, _ in b) or any(t in wild_b for t, _ in a)


def independent(a: Footprint, b: Footprint) -> bool:
    """Whether ``a`` and ``b`` commute (rules 1-4 of the module docstring)."""
    if a.total or b.total or a.process is None or b.process is None:
        return False
    if a.process == b.process:
        return False
    if any((x, y) in _ORDERED for x in a.markers for y in b.markers):
        return False
    return not (
        _overlap(a.writes, b.writes) or _overlap(a.writes, b.reads) or _overlap(a.reads, b.writes)
    )
