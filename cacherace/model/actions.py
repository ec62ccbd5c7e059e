"""The actions a schedule is made of, and the fields each needs: one list that
:mod:`cacherace.explore.apply` applies and :mod:`cacherace.report.trace`
validates, so a trace and the engine never disagree about what an action is."""

from __future__ import annotations

ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("process", "f"),
    "step": ("process",),
    "finish": ("process",),
    "advance": ("seconds",),
    "crash-client": ("process",),
    "fail-before": ("process",),
    "fail-after": ("process",),
    "crash-cache": (),
    "restart-cache": (),
    "crash-db": (),
    "restart-db": (),
    "evict": ("key",),
}

#: Actions that inject a fault (for tiers and reports); restarts heal one.
FAULT_ACTIONS = frozenset(
    {"crash-client", "fail-before", "fail-after", "crash-cache", "restart-cache", "crash-db",
     "restart-db", "evict"}
)  # fmt: skip
SERVER_CRASHES = frozenset({"crash-cache", "crash-db"})
