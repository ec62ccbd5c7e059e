"""``single-flight``: one database read per key at a time (thundering-herd protection).

This is what dogpile.cache's lock, cacheops' ``lock=True`` and memcache-style leases
exist for: while one client fills a key from the database, the others wait for its
value instead of all reading the database at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from cacherace.model import Complete, History, Invoke, Step, Verdict
from cacherace.properties._writes import t
from cacherace.properties.registry import claim

SINGLE_FLIGHT = "single-flight"


def reads_database(step: Step) -> bool:
    """A step that reads rows: a SELECT (or a WITH query). Connection set-up
    statements (SET, SHOW) and transaction keywords are not reads of a key."""
    if step.target != "postgres":
        return False
    return step.command.lstrip().upper().startswith(("SELECT", "WITH"))


@dataclass(frozen=True, slots=True)
class _Fill:
    invoke: Invoke
    first: Step  # its first database read


@claim(
    SINGLE_FLIGHT,
    summary="while one client fills a key from the database, no other client reads it there",
)
def single_flight(history: History) -> Verdict:
    """While one client's read of key ``k`` is filling ``k`` from the database, no
    other client's read of ``k`` reads the database.

    A step belongs to the operation named by its ``process`` and ``op``; the item key
    is that operation's key. A read of ``k`` is *filling* from its first database
    read (a step for which :func:`reads_database` holds) until its Complete, whatever
    the outcome (a crashed client's read completes ``info`` when it dies). Broken when
    a read of ``k`` by another process reads the database while a read of ``k`` is
    filling. Writes and actor operations never count: they are not fills. The first
    such read is reported.

    Witness: the second read's database step, the filling read's first database
    step, then both reads' Invokes.
    """
    ops: dict[tuple[str, int], Invoke] = {}
    filling: dict[str, dict[str, _Fill]] = {}  # key -> process -> its fill
    for e in history.events:
        if isinstance(e, Invoke):
            if e.f == "read" and e.key is not None:
                ops[(e.process, e.op)] = e
        elif isinstance(e, Complete):
            inv = ops.pop((e.process, e.op), None)
            if inv is not None and inv.key is not None:
                filling.get(inv.key, {}).pop(e.process, None)
        elif isinstance(e, Step) and e.op is not None and reads_database(e):
            inv = ops.get((e.process, e.op))
            if inv is None or inv.key is None:
                continue
            fills = filling.setdefault(inv.key, {})
            other = next((f for p, f in fills.items() if p != e.process), None)
            if other is not None:
                return Verdict.broken_by(
                    SINGLE_FLIGHT,
                    f"{e.process}'s read of {inv.key} read the database (t={t(e.time)}) while"
                    f" {other.invoke.process}'s read of {inv.key} was filling it (it read the"
                    f" database at t={t(other.first.time)} and had not finished)",
                    e.index,
                    other.first.index,
                    other.invoke.index,
                    inv.index,
                )
            fills.setdefault(e.process, _Fill(inv, e))
    return Verdict.holds(SINGLE_FLIGHT)
