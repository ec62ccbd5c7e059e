"""Typed actions end to end: traces written with the old action names still load
and replay with the same history, and new traces write the one name per fault."""

from __future__ import annotations

import json
from pathlib import Path

from cacherace.explore import apply
from cacherace.explore.replay import record_trace, replay_trace
from cacherace.model.actions import (
    CACHE_CRASH,
    CACHE_RESTART,
    Advance,
    ClientFault,
    Evict,
    Finish,
    ServerFault,
    Start,
    StepAction,
    from_json,
    to_json,
)
from cacherace.model.history import Fault
from cacherace.report.trace import load, save
from cacherace.servers import Backend

from .conftest import MakeScheduler

#: A read that fills the cache, a cache crash and restart under old names, a read.
OLD_NAMES = [
    {"do": "start", "process": "c0", "f": "read", "key": "k1"},
    {"do": "finish", "process": "c0"},
    {"do": "crash-cache"},
    {"do": "restart-cache"},
    {"do": "start", "process": "c1", "f": "write", "key": "k1", "value": "k1.1"},
    {"do": "step", "process": "c1"},
    {"do": "crash-client", "process": "c1"},
    {"do": "evict", "key": "k1"},
    {"do": "advance", "seconds": 2},
]


def test_old_names_read_as_the_one_name() -> None:
    typed = [from_json(a) for a in OLD_NAMES]
    assert typed[2:4] == [ServerFault(CACHE_CRASH), ServerFault(CACHE_RESTART)]
    assert typed[6] == ClientFault("client-crash", "c1")
    assert [to_json(a)["do"] for a in typed] == [
        "start", "finish", "cache-crash", "cache-restart", "start", "step",
        "client-crash", "evict", "advance",
    ]  # fmt: skip
    assert typed[0] == Start("c0", "read", "k1")
    assert (typed[1], typed[5]) == (Finish("c0"), StepAction("c1"))
    assert (typed[7], typed[8]) == (Evict("k1"), Advance(2.0))
    assert all(from_json(to_json(a)) == a for a in typed)


def test_old_trace_replays_with_the_same_history(
    make_scheduler: MakeScheduler, cacherace_backend: Backend, tmp_path: Path
) -> None:
    s = make_scheduler()
    trace = record_trace(s, "cache-aside", "converges", OLD_NAMES)
    faults = [e.fault for e in trace.history.events if isinstance(e, Fault)]
    assert faults == ["cache-crash", "cache-restart", "client-crash", "evict"]
    path = save(trace, tmp_path)
    written = json.loads(path.read_text())["schedule"]
    assert [a["do"] for a in written][2:4] == ["cache-crash", "cache-restart"]
    # The same trace as a tool before one name per fault wrote it.
    data = json.loads(path.read_text())
    data["schedule"] = OLD_NAMES
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    loaded = load(old)
    assert loaded.schedule == trace.schedule
    result = replay_trace(loaded, cacherace_backend)
    assert result.first_difference is None and result.reproduced
    assert apply.as_action(OLD_NAMES[2]) == ServerFault(CACHE_CRASH)
