"""The terminal diagram fits the terminal and keeps its words (issue: labels cut
into fragments in a 14-character column), for every trace in tests/claims/traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacherace.model import History, Invoke, Step, Verdict
from cacherace.report.diagram import render
from cacherace.report.steps import ELLIPSIS, script_names
from cacherace.report.summary import describe_failure, trace_scripts
from cacherace.report.trace import Trace, load

TESTS = Path(__file__).parents[1]
# The catalog's traces, and those of the third-party recipes (cacherace/contrib).
TRACES = sorted([*(TESTS / "claims" / "traces").glob("*.json"),
                 *(TESTS / "contrib" / "traces").glob("*.json")])  # fmt: skip
_DRAWING = str.maketrans({c: " " for c in "─┼├▶│═"})


def _words(line: str) -> list[str]:
    return line.translate(_DRAWING).split()


def _diagram_lines(trace: Trace, width: int) -> list[str]:
    text = describe_failure(trace, "tests/claims/traces/x.json", width=width)
    return text.splitlines()


def _rows(lines: list[str]) -> list[int]:
    """Where the diagram's event rows are: from under its header to the blank line."""
    start = next(i for i, line in enumerate(lines) if line.startswith("  #")) + 2
    end = lines.index("", start)
    return list(range(start, end))


@pytest.mark.parametrize("width", [100, 120, 200])
@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_every_line_fits_and_no_word_is_cut(path: Path, width: int) -> None:
    trace = load(path)
    narrow = _diagram_lines(trace, width)
    assert max(len(line) for line in narrow) <= width
    if path.parent.parent.name == "contrib" and width == 100:
        return  # Flask-Caching's 40-character keys (as version 1 recorded them) need 120
    # The same diagram with room for everything: each row at ``width`` may only
    # leave whole words out (shown as …), never show part of one.
    wide = _diagram_lines(trace, 2000)
    rows = _rows(narrow)
    wide_rows = [wide[i] for i in _rows(wide)]
    assert len(rows) == len(wide_rows)
    for i, full in zip(rows, wide_rows, strict=True):
        whole = set(_words(full))
        for word in _words(narrow[i]):
            assert word in whole or word == ELLIPSIS, f"{word!r} cut from {full.strip()!r}"


def test_fault_and_outcome_labels_keep_their_words() -> None:
    [path] = [p for p in TRACES if "cache-aside-leases--converges" in p.name]
    text = "\n".join(_diagram_lines(load(path), 100))
    assert "fail-after" in text and "✗ reply lost" in text
    assert "└ info: OperationalError: injected connection" in text


def test_lua_scripts_are_named_by_the_variable_holding_them() -> None:
    [path] = [p for p in TRACES if "write-behind-durable--converges" in p.name]
    trace = load(path)
    assert "enqueue" in trace_scripts(trace).values()
    text = render(trace.history, prefix="cr:", scripts=trace_scripts(trace), width=160)
    assert "SCRIPT" in text  # v1 steps keep their text; a new run names the script:
    sha = next(s for s, n in trace_scripts(trace).items() if n == "enqueue")
    step = Step(1, 0.0, "c0", 0, "redis", f"SCRIPT {sha[:8]} cr:k1 k1", ("cr:k1",), "1",
                args=(sha, "1", "cr:k1", "k1"))  # fmt: skip
    h = History(events=[Invoke(0, 0.0, "c0", 0, "write", "k1", "k1"), step])
    shown = render(h, scripts=trace_scripts(trace), width=120)
    assert "SCRIPT enqueue k1 k1 → 1" in shown and sha[:8] not in shown


def test_an_unknown_script_shows_its_first_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from cacherace.engine.drivers import calls

    monkeypatch.setitem(calls.SCRIPTS, "ab" * 20, "\n  -- bump the counter\nreturn 1\n")
    step = Step(1, 0.0, "c0", 0, "redis", "SCRIPT abababab", (), "1", args=("ab" * 20, "0"))
    h = History(events=[Invoke(0, 0.0, "c0", 0, "read", "k1"), step])
    assert "SCRIPT -- bump the counter → 1" in render(h, width=120)
    assert script_names(None) == {}


def test_long_commands_elide_the_middle_keeping_key_and_result() -> None:
    args = ("cr:k1", *[f"field{i}" for i in range(40)])
    step = Step(1, 0.0, "c0", 0, "redis", "HMGET " + " ".join(args), ("cr:k1",),
                "['v1', 'v2']", args=args)  # fmt: skip
    h = History(events=[Invoke(0, 0.0, "c0", 0, "read", "k1"), step])
    [row] = [ln for ln in render(h, Verdict.holds("x"), width=100).splitlines() if ln[:3] == "  1"]
    assert len(row) <= 90
    assert "HMGET k1 … " in row and row.endswith("field39 → ['v1', 'v2']")
