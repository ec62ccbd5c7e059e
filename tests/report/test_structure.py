"""Steps kept as data: traces keep it, replays of version-1 traces compare in the
text version 1 built, and the diagram renders structure (or old text as it is)."""

from __future__ import annotations

from pathlib import Path

from cacherace.engine.drivers.calls import v1_step
from cacherace.explore.replay import first_difference
from cacherace.model import History, Step, Verdict
from cacherace.report.diagram import describe_step
from cacherace.report.trace import Trace, load, save

SELECT = "SELECT value, version FROM cacherace_items WHERE key = %s"
NEW = Step(0, 0.0, "c0", 0, "postgres", SELECT, (), "SELECT 1", args=("k1",),
           rows=(("k1.0", 2),))  # fmt: skip
OLD = Step(0, 0.0, "c0", 0, "postgres", f"{SELECT} [k1]", (), "[('k1.0', 2)]")


def _history(*steps: Step) -> History:
    h = History(initial={"k1": "k1.0"}, ttl=300)
    for s in steps:
        h.append(s)
    return h


def test_a_trace_keeps_parameters_and_rows_as_data(tmp_path: Path) -> None:
    trace = Trace("cache-aside", "converges", [], _history(NEW), Verdict.holds("converges"))
    [loaded] = load(save(trace, tmp_path)).history.events
    assert loaded == NEW and loaded.rows == (("k1.0", 2),) and loaded.args == ("k1",)


def test_version_1_text_is_built_from_the_structure() -> None:
    assert v1_step(NEW) == OLD
    assert v1_step(OLD) is OLD  # no structure: nothing to build


def test_replay_of_a_version_1_trace_compares_old_text() -> None:
    assert first_difference(_history(OLD), _history(NEW), version=1) is None
    assert first_difference(_history(NEW), _history(NEW)) is None
    assert first_difference(_history(OLD), _history(NEW)) is not None  # v2 compares data
    other = Step(0, 0.0, "c0", 0, "postgres", SELECT, (), "SELECT 1", args=("k2",), rows=())
    diff = first_difference(_history(OLD), _history(other), version=1)
    assert diff is not None and "command" in diff and "result" in diff


def test_the_diagram_renders_structure_and_shows_old_text_as_it_is() -> None:
    assert describe_step(NEW) == "SELECT value, version OF k1 → k1.0, 2"
    assert describe_step(OLD) == f"{SELECT} [k1] → [('k1.0', 2)]"
