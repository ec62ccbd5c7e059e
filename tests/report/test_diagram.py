from __future__ import annotations

from cacherace.model import Complete, History, Invoke, Outcome, Step, Verdict
from cacherace.report.diagram import (
    BROKEN_MARK,
    WITNESS_MARK,
    describe_step,
    render,
    render_summary,
    short_sql,
)

from .histories import STALE_READ, STALE_SET, stale_read_verdict, stale_set_history


def _row(text: str, index: int) -> str:
    (line,) = [ln for ln in text.splitlines() if ln[:3].strip() == str(index)]
    return line


def test_one_column_per_process_and_server() -> None:
    header = render(stale_set_history()).splitlines()[0].split()
    assert header == ["#", "c0", "c1", "redis", "postgres"]


def test_one_row_per_event_in_order() -> None:
    text = render(stale_set_history())
    indexes = [int(ln[:3]) for ln in text.splitlines()[2:] if ln[:3].strip().isdigit()]
    # the end state takes a rule plus one row per key
    assert indexes == [*range(20), 19]


def test_steps_are_arrows_with_short_commands_and_results() -> None:
    text = render(stale_set_history())
    assert "▶ GET k1 → nil" in _row(text, 1)
    assert "▶ SELECT k1 → k1.0" in _row(text, 2)
    assert "▶ UPDATE k1 := 'k1.1' → UPDATE 1" in _row(text, 4)
    assert "cacherace_items" not in text
    assert "cr:" not in text
    assert "● k1 := k1.1" in _row(text, 5)


def test_offending_read_and_witness_are_marked() -> None:
    text = render(stale_set_history(), stale_read_verdict())
    assert _row(text, STALE_READ).endswith(BROKEN_MARK)
    assert "└ ok k1.0" in _row(text, STALE_READ)
    assert _row(text, STALE_SET).endswith(WITNESS_MARK)
    assert sum(BROKEN_MARK in ln for ln in text.splitlines()) == 1
    assert text.splitlines()[-1] == render_summary(stale_read_verdict())
    assert "\x1b[" not in text


def test_color_highlights_the_offending_row() -> None:
    text = render(stale_set_history(), stale_read_verdict(), color=True)
    (line,) = [ln for ln in text.splitlines() if BROKEN_MARK in ln]
    assert line.startswith("\x1b[31m") and f"{STALE_READ:>3}  " in line


def test_faults_time_and_end_state_are_shown() -> None:
    text = render(stale_set_history())
    assert "↯ next call: fail-after" in _row(text, 13)
    assert "✗ reply lost" in _row(text, 14)
    assert "└ info" in _row(text, 15)
    assert "✗ cache crash (none)" in _row(text, 16)
    assert "↻ cache restart (kept 0 keys)" in _row(text, 17)
    assert "t=301s (+301s; expired: k1)" in _row(text, 18)
    end = [ln for ln in text.splitlines() if ln.startswith(" 19")]
    assert "end: settled" in end[0]
    assert "k1 = nil" in end[1] and "k1 = k1.1" in end[1]


def test_long_commands_and_values_are_clipped() -> None:
    command = "SET cr:k1 " + "x" * 500
    h = History(
        events=[
            Invoke(0, 0.0, "c0", 0, "write", "k1", "v" * 300),
            Step(1, 0.0, "c0", 0, "redis", command, (), "True"),
            Complete(2, 0.0, "c0", 0, "write", "k1", Outcome.INFO, error="e" * 300),
        ]
    )
    assert len(describe_step(h[1])) > 500  # the diagram clips, not describe_step
    lines = render(h, Verdict.broken_by("x", "r" * 50, 2)).splitlines()
    assert max(len(ln) for ln in lines[:-1]) <= 140
    assert "…" in lines[2] and "…" in lines[3]
    assert lines[3].endswith("… → OK")  # the command is clipped, the outcome kept


def test_sql_shortening() -> None:
    assert short_sql("SELECT value, version FROM cacherace_items WHERE key = %s", ["k1"]) == (
        "SELECT value, version OF k1"
    )
    assert (
        short_sql(
            "INSERT INTO cacherace_items AS t (key, value, version) VALUES (%s, %s, 1) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            ["k1", "k1.1"],
        )
        == "UPSERT k1 := 'k1.1'"
    )
    assert short_sql("DELETE FROM cacherace_items WHERE key = %s", ["k2"]) == "DELETE k2"
    assert short_sql("COMMIT") == "COMMIT"


def test_summary_is_one_line() -> None:
    assert render_summary(Verdict.holds("converges")) == "converges: HOLDS"
    line = render_summary(stale_read_verdict())
    assert "\n" not in line and line.startswith("fresh-after-ack: BROKEN - ")
    assert line.endswith(f"(witness #{STALE_READ}, #7, #{STALE_SET})")
