from __future__ import annotations

import json
from pathlib import Path

import pytest

from cacherace.model.actions import to_json
from cacherace.model.history import Step
from cacherace.report.trace import FORMAT, VERSION, Trace, TraceError, load, save

from .histories import stale_read_verdict, stale_set_history

SCHEDULE = [
    {"do": "start", "process": "c0", "f": "read", "key": "k1"},
    {"do": "step", "process": "c0"},
    {"do": "advance", "seconds": 301},
]


def _trace(**changes: object) -> Trace:
    fields: dict = dict(
        strategy="cache-aside",
        claim="fresh-after-ack",
        schedule=SCHEDULE,
        history=stale_set_history(),
        verdict=stale_read_verdict(),
        tier="concurrency",
    )
    fields.update(changes)
    return Trace(**fields)


def test_round_trip(tmp_path: Path) -> None:
    trace = _trace()
    path = save(trace, tmp_path / "traces")
    loaded = load(path)
    assert loaded.history == trace.history
    assert loaded.verdict == trace.verdict
    assert [to_json(a) for a in loaded.schedule] == SCHEDULE
    assert (loaded.format, loaded.version, loaded.tier) == (FORMAT, VERSION, "concurrency")
    assert loaded.strategy_settings().ttl == 300
    assert loaded.steps == sum(1 for e in trace.history.events if isinstance(e, Step)) > 0


def test_file_name_is_deterministic(tmp_path: Path) -> None:
    a, b = save(_trace(), tmp_path), save(_trace(created="later"), tmp_path)
    assert a == b and a.name.startswith("cache-aside--fresh-after-ack--")
    other = save(_trace(schedule=SCHEDULE[:2]), tmp_path)
    assert other != a
    user = _trace(strategy="src/app/my_cache.py:MyCache").file_name()
    assert user.startswith("my_cache-MyCache--fresh-after-ack--")


def test_one_event_per_line(tmp_path: Path) -> None:
    lines = save(_trace(), tmp_path).read_text().splitlines()
    assert sum('"kind": ' in ln for ln in lines) == len(stale_set_history())
    assert sum('{"do": ' in ln for ln in lines) == len(SCHEDULE)


def _write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "broken-trace.json"
    path.write_text(content)
    return path


def _data(tmp_path: Path) -> dict:
    return json.loads(save(_trace(), tmp_path).read_text())


def _error(path: Path) -> str:
    with pytest.raises(TraceError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_not_json(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, '{"format": "cacherace-trace", "vers'))
    assert "not valid JSON" in message and "re-create" in message


def test_not_a_trace(tmp_path: Path) -> None:
    assert "format" in _error(_write(tmp_path, '{"format": "jepsen"}'))
    assert "JSON object" in _error(_write(tmp_path, "[1, 2]"))


def test_wrong_version(tmp_path: Path) -> None:
    data = _data(tmp_path)
    data["version"] = 99
    message = _error(_write(tmp_path, json.dumps(data)))
    assert "version 99" in message and "upgrade cacherace" in message


@pytest.mark.parametrize("field", ["schedule", "history", "strategy", "verdict"])
def test_missing_field(tmp_path: Path, field: str) -> None:
    data = _data(tmp_path)
    del data[field]
    message = _error(_write(tmp_path, json.dumps(data)))
    assert f"no {field!r} field" in message


def test_bad_event(tmp_path: Path) -> None:
    data = _data(tmp_path)
    data["history"]["events"][3] = {"index": 3, "kind": "teleport"}
    assert "history is not valid" in _error(_write(tmp_path, json.dumps(data)))


def test_bad_action(tmp_path: Path) -> None:
    data = _data(tmp_path)
    data["schedule"].append({"do": "step"})
    assert "lacks process" in _error(_write(tmp_path, json.dumps(data)))
    data["schedule"][-1] = {"do": "dance"}
    assert "unknown" in _error(_write(tmp_path, json.dumps(data)))


def test_missing_file(tmp_path: Path) -> None:
    assert "no such trace file" in _error(tmp_path / "nope.json")


def test_failure_text_has_diagram_trace_and_replay_command() -> None:
    from cacherace.report.summary import describe_failure

    text = describe_failure(_trace(), "cacherace-traces/x.json")
    assert text.startswith("cache-aside: fresh-after-ack: BROKEN")
    assert "◀ BROKEN" in text
    assert text.endswith("replay: cacherace replay cacherace-traces/x.json")
