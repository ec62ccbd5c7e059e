"""Acceptance: a fixed schedule of the article's cache-aside race replays the same
history every time against real servers."""

from __future__ import annotations

from typing import Any

from cacherace.explore import apply as schedule
from cacherace.model.history import EndState

from .conftest import MakeScheduler
from .helpers import commands, of

# The article's stale set: the reader misses and reads the old row; the writer
# updates and deletes; the reader then caches the old value.
STALE_SET: list[dict[str, Any]] = [
    {"do": "start", "process": "c0", "f": "read", "key": "k1"},
    {"do": "step", "process": "c0"},  # GET: miss
    {"do": "step", "process": "c0"},  # SELECT: k1.0
    {"do": "start", "process": "c1", "f": "write", "key": "k1", "value": "k1.1"},
    {"do": "step", "process": "c1"},  # UPSERT k1.1
    {"do": "step", "process": "c1"},  # DEL
    {"do": "step", "process": "c0"},  # SET k1.0 EX 300: the stale set
]


def test_stale_set_schedule_gives_the_same_history_100_times(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(clients=2)
    runs = [schedule.run(s, STALE_SET).to_json() for _ in range(100)]
    first = runs[0]
    differing = [i for i, run in enumerate(runs) if run != first]
    assert differing == [], f"runs {differing} differ from run 0"

    history = schedule.run(s, STALE_SET)
    assert commands(history) == [
        "GET crh:k1",
        "SELECT value FROM cacherace_harness_tests WHERE key = %s [k1]",
        # the statement is clipped, its parameters (key and value written) kept
        "INSERT INTO cacherace_harness_tests AS t (key, value, version) VALUES (%s, %s, 1) "
        "ON CONFLICT (… [k1, k1.1]",
        "DEL crh:k1",
        "SET crh:k1 k1.0 EX 300",
    ]
    [end] = of(history, EndState)
    assert (end.cache, end.db, end.settled) == ({"k1": "k1.0"}, {"k1": "k1.1"}, True)
    # events carry every field: the JSON is the whole history, not a summary of it
    kinds = [e["kind"] for e in first["events"]]
    assert kinds == ["invoke", "step", "step", "invoke", "step", "db", "step", "complete",
                     "step", "complete", "end"]  # fmt: skip
    assert first["events"][8]["result"] == "True" and first["events"][1]["result"] == "None"


def test_a_fresh_scheduler_gives_the_same_history(make_scheduler: MakeScheduler) -> None:
    first = schedule.run(make_scheduler(clients=2), STALE_SET).to_json()
    again = schedule.run(make_scheduler(clients=2), STALE_SET).to_json()
    assert again == first
