"""The database timeline: after each step that committed, read the keys back and
record every change as a ``DbChange`` event, so claims know what the database held
at every point of the history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cacherace.engine.observers.peek import peek_libpq
from cacherace.model.history import new_db_change
from cacherace.strategies.base import Strategy


class DbTimeline:
    """What the harness last saw committed for each key."""

    def __init__(self, servers: Any, recorder: Any, strategy_cls: Any, settings: Any,
                 keys: Sequence[str]) -> None:  # fmt: skip
        self.servers = servers
        self.recorder = recorder
        self.strategy_cls = strategy_cls
        self.settings = settings
        self.keys = tuple(keys)
        self.view: dict[str, str | None] = {}
        # The base class's own query can be read straight through libpq.
        own = getattr(strategy_cls.peek_database, "__func__", None)
        self.fast = bool(keys) and own is Strategy.peek_database.__func__  # type: ignore[attr-defined]

    def begin(self, initial: dict[str, str]) -> None:
        self.view = dict(initial)

    def observe(self, step: int | None) -> None:
        """Read every key back; record those that changed (``step``: the step whose
        commit made them, None when the harness saw it, as after a recovery)."""
        if not self.servers.db_up:
            return
        now = None
        if self.fast:
            now = peek_libpq(self.servers.admin_db, self.settings.table, self.keys)
        if now is None:
            now = self.strategy_cls.peek_database(self.servers.admin_db, self.settings, self.keys)
        view = self.view
        for k in self.keys:
            if now.get(k) != view.get(k):
                view[k] = now.get(k)
                self.recorder.record(new_db_change, k, now.get(k), step)
