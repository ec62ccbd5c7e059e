"""The reference timeline of the database: which value each key held, and when.

Built from a history's ``initial`` values and its :class:`DbChange` events (the
committed changes). A change that sets a key to the value it already holds (e.g.
re-observed after a crash recovery) is not a change of value and is skipped.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from cacherace.model.history import DbChange, History


@dataclass(frozen=True, slots=True)
class Span:
    """One stretch during which ``key`` held ``value`` in the database.

    ``start`` is the change that made it current (None: the initial value);
    ``end`` the change that replaced it (None: still current at the end of the history).
    """

    key: str
    value: str | None
    start: DbChange | None
    end: DbChange | None

    @property
    def start_index(self) -> int:
        return self.start.index if self.start else -1


class Timeline:
    """Committed values per key, in history order. Build once per check: O(n)."""

    def __init__(self, history: History) -> None:
        self._spans: dict[str, list[Span]] = {}
        for key, value in history.initial.items():
            self._spans[key] = [Span(key, value, None, None)]
        for event in history.events:
            if isinstance(event, DbChange):
                self._change(event, history.initial.get(event.key))

    def _change(self, change: DbChange, initial: str | None) -> None:
        spans = self._spans.setdefault(change.key, [Span(change.key, initial, None, None)])
        last = spans[-1]
        if change.value == last.value:
            return
        spans[-1] = Span(last.key, last.value, last.start, change)
        spans.append(Span(change.key, change.value, change, None))

    def keys(self) -> list[str]:
        return sorted(self._spans)

    def spans(self, key: str) -> list[Span]:
        """Every span of ``key`` in order (a key never mentioned: one span of None)."""
        return self._spans.get(key) or [Span(key, None, None, None)]

    def spans_of(self, key: str, value: str | None) -> list[Span]:
        """The spans during which ``key`` held ``value`` (empty: it never did)."""
        return [s for s in self.spans(key) if s.value == value]

    def value_at(self, key: str, index: int) -> str | None:
        """The value ``key`` held once every change with index <= ``index`` committed."""
        spans = self.spans(key)
        i = bisect_right([s.start_index for s in spans], index) - 1
        return spans[max(i, 0)].value

    def final(self, key: str) -> str | None:
        """The value ``key`` holds after the last committed change."""
        return self.spans(key)[-1].value
