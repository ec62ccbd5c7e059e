"""A readable way to write histories by hand in claim tests.

    h = H(initial={"k": "k.0"}, ttl=10)
    h.write("c0", "k", "k.1")          # invoke, DbChange, ok
    h.advance(5)
    r = h.read("c1", "k", "k.0")       # invoke, ok with the value read
    h.invoke("c2", "write", "k", "k.2"); h.info("c2")

Every call appends events at the builder's virtual time ``now`` and returns the
index of the (last) event it appended, so tests can assert witnesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import count
from typing import Any

from cacherace.model import (
    Complete,
    DbChange,
    EndState,
    Event,
    Fault,
    History,
    Invoke,
    Outcome,
    Step,
    TimeAdvance,
    Wait,
)


class H:
    def __init__(self, initial: Mapping[str, str | None] | None = None, ttl: float | None = None):
        self.history = History(initial=dict(initial or {}), ttl=ttl)
        self.now = 0.0
        self._ops = count()
        self._pending: dict[str, Invoke] = {}

    def _add(self, cls: type, **fields: Any) -> int:
        index = self.history.next_index
        event: Event = cls(index=index, time=self.now, **fields)
        self.history.append(event)
        return index

    # -- operations -----------------------------------------------------------
    def invoke(self, process: str, f: str, key: str | None = None, value: str | None = None) -> int:
        assert process not in self._pending, f"{process} already has an operation in flight"
        index = self._add(Invoke, process=process, op=next(self._ops), f=f, key=key, value=value)
        self._pending[process] = self.history[index]  # type: ignore[assignment]
        return index

    def _complete(self, process: str, outcome: Outcome, **fields: Any) -> int:
        inv = self._pending.pop(process)
        return self._add(
            Complete, process=process, op=inv.op, f=inv.f, key=inv.key, type=outcome, **fields
        )

    def ok(self, process: str, value: str | None = None) -> int:
        """Complete ``process``'s operation ok; for a read, ``value`` is what it returned."""
        return self._complete(process, Outcome.OK, value=value)

    def fail(self, process: str, error: str = "refused") -> int:
        return self._complete(process, Outcome.FAIL, error=error)

    def info(self, process: str, error: str = "timed out") -> int:
        return self._complete(process, Outcome.INFO, error=error)

    def write(self, process: str, key: str, value: str, *, commit: bool = True) -> int:
        """A whole ok write (committing ``value`` to the database unless told not to)."""
        self.invoke(process, "write", key, value)
        if commit:
            self.db(key, value)
        return self.ok(process)

    def read(self, process: str, key: str, value: str | None) -> int:
        """A whole ok read that returned ``value``."""
        self.invoke(process, "read", key)
        return self.ok(process, value)

    # -- everything else ------------------------------------------------------
    def db(self, key: str, value: str | None) -> int:
        return self._add(DbChange, key=key, value=value)

    def advance(self, delta: float, *expired: str) -> int:
        self.now += delta
        return self._add(TimeAdvance, delta=delta, expired=tuple(expired))

    def fault(self, fault: str, process: str | None = None, key: str | None = None) -> int:
        return self._add(Fault, fault=fault, process=process, key=key)

    def step(
        self,
        process: str,
        target: str,
        command: str,
        *keys: str,
        injected: str | None = None,
    ) -> int:
        inv = self._pending.get(process)
        return self._add(
            Step,
            process=process,
            op=inv.op if inv else None,
            target=target,
            command=command,
            keys=tuple(keys),
            injected=injected,
        )

    def wait(
        self,
        process: str,
        what: str,
        *on: str,
        since: float,
        bound: float | None = None,
        ended: bool = True,
    ) -> int:
        """A Wait event at ``now`` for ``process``'s operation in flight."""
        inv = self._pending.get(process)
        return self._add(
            Wait, process=process, op=inv.op if inv else None, what=what, on=tuple(on),
            since=since, bound=bound, ended=ended,
        )  # fmt: skip

    def end(
        self,
        cache: Mapping[str, str | None],
        db: Mapping[str, str | None],
        *,
        settled: bool = True,
        reason: str = "",
    ) -> int:
        return self._add(EndState, cache=dict(cache), db=dict(db), settled=settled, reason=reason)
