"""Per-key write order, shared by the claims (private helper, pure).

Every key has a *virtual initial write* of ``history.initial[key]`` (None when the
key is not listed), acknowledged before everything: invoke and end index -1.

Real-time order between writes is ``x precedes y`` iff ``x.end < y.invoke``. A
write's ``end`` is its Complete's index whatever the outcome; a write still in
flight never ends (it may take effect at any time after its invoke).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from cacherace.model import Complete, History, Invoke, Outcome

NEVER = 1 << 62  # end index of a write still in flight


@dataclass(frozen=True, slots=True)
class Write:
    key: str
    value: str | None
    process: str | None  # None: the virtual initial write
    invoke: int
    end: int
    time: float  # virtual time of the invoke
    end_time: float | None
    outcome: Outcome | None  # None: in flight

    @property
    def initial(self) -> bool:
        return self.process is None

    @property
    def acked(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    @property
    def complete(self) -> int | None:
        """Index of the Complete event, for witnesses (None: initial or in flight)."""
        return None if self.initial or self.end == NEVER else self.end

    @property
    def end_t(self) -> str:
        """Virtual time of the Complete, as text ("?" when there is none)."""
        return "?" if self.end_time is None else t(self.end_time)

    def precedes(self, other: Write) -> bool:
        return self.end < other.invoke

    def describe(self) -> str:
        if self.initial:
            return f"the initial value {fmt(self.value)}"
        return f"{self.process}'s write of {fmt(self.value)}"


@dataclass(frozen=True, slots=True)
class Read:
    """An ok read: what it returned and when it ran."""

    process: str
    key: str
    value: str | None
    invoke: Invoke
    complete: Complete

    def describe(self) -> str:
        got = "got nothing" if self.value is None else f"= {fmt(self.value)}"
        return f"{self.process} read {self.key} {got} (t={t(self.invoke.time)})"

    def witness(self) -> tuple[int, int]:
        return (self.complete.index, self.invoke.index)


class Writes:
    """All writes of every key, with the latest acknowledged write before any index."""

    def __init__(self, history: History) -> None:
        self._by_value: dict[tuple[str, str | None], list[Write]] = {}
        self._by_end: dict[int, Write] = {}
        acked: dict[str, list[Write]] = {}
        for name, value in history.initial.items():
            self._add(_initial(name, value))
        for op in history.operations("write"):
            key = op.key
            if key is None:
                continue
            c = op.complete
            w = Write(
                key,
                op.invoke.value,
                op.process,
                op.invoke.index,
                c.index if c else NEVER,
                op.invoke.time,
                c.time if c else None,
                c.type if c else None,
            )
            self._add(w)
            if w.acked:
                acked.setdefault(key, []).append(w)
        # Per key, acked writes by end index with the running max of invoke index:
        # "latest acknowledged before i" is then one binary search.
        self._ack_ends: dict[str, list[int]] = {}
        self._ack_latest: dict[str, list[Write]] = {}
        for key, ws in acked.items():
            ws.sort(key=lambda w: w.end)
            best: list[Write] = []
            for w in ws:
                best.append(w if not best or w.invoke > best[-1].invoke else best[-1])
            self._ack_ends[key] = [w.end for w in ws]
            self._ack_latest[key] = best
        self._initial = history.initial

    def _add(self, w: Write) -> None:
        self._by_value.setdefault((w.key, w.value), []).append(w)
        if w.complete is not None:
            self._by_end[w.end] = w

    def initial(self, key: str) -> Write:
        return _initial(key, self._initial.get(key))

    def ended_at(self, index: int) -> Write | None:
        """The write whose Complete is event ``index``."""
        return self._by_end.get(index)

    def sources(self, key: str, value: str | None) -> list[Write]:
        """The writes (any outcome, and the initial one) that wrote ``value`` to ``key``."""
        found = self._by_value.get((key, value), [])
        if key not in self._initial and value is None:
            return [self.initial(key), *found]
        return found

    def latest_acked_before(self, key: str, index: int) -> Write:
        """Of the ok writes of ``key`` that ended before ``index`` (and the initial
        write), the one invoked last: every write that precedes it precedes it."""
        ends = self._ack_ends.get(key)
        if not ends:
            return self.initial(key)
        i = bisect_left(ends, index)
        return self._ack_latest[key][i - 1] if i else self.initial(key)

    def latest_acked(self, key: str) -> Write:
        return self.latest_acked_before(key, NEVER + 1)

    def keys(self) -> set[str]:
        return {key for key, _ in self._by_value}


def _initial(key: str, value: str | None) -> Write:
    return Write(key, value, None, -1, -1, float("-inf"), None, Outcome.OK)


def ok_reads(history: History) -> Iterator[Read]:
    """Ok reads with a key, in order of completion."""
    invokes: dict[tuple[str, int], Invoke] = {}
    for e in history.events:
        if isinstance(e, Invoke) and e.f == "read":
            invokes[(e.process, e.op)] = e
        elif isinstance(e, Complete) and e.f == "read" and e.type is Outcome.OK:
            inv = invokes.pop((e.process, e.op), None)
            key = e.key if e.key is not None else inv.key if inv else None
            if inv is not None and key is not None:
                yield Read(e.process, key, e.value, inv, e)


def fmt(value: str | None) -> str:
    return "nothing" if value is None else repr(value)


def t(time: float) -> str:
    return f"{time:g}"
