"""``cacherace replay``: unusable traces exit 2 naming the file; a trace whose history
does not match what its schedule does now exits 1 naming the first difference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import VerifyRun
from .helpers import backend_args, run_cli


def _trace_of(run: VerifyRun) -> Path:
    [trace] = run.trace_dir.glob("*.json")
    return trace


def _edited(run: VerifyRun, tmp_path: Path, edit: Any) -> Path:
    """A copy of the broken cell's trace with ``edit(data)`` applied."""
    data = json.loads(_trace_of(run).read_text())
    edit(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


def _assert_one_line_naming(err: str, path: Path, *causes: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"cacherace replay: {path}"), err
    for cause in causes:
        assert cause in lines[0], err


def test_missing_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    r = run_cli("replay", str(path))
    assert (r.code, r.out) == (2, "")
    _assert_one_line_naming(r.err, path, "no such trace file")


def test_corrupt_file_exits_2(broken_run: VerifyRun, tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    path.write_text(_trace_of(broken_run).read_text()[:200])  # cut off mid-file
    r = run_cli("replay", str(path))
    assert (r.code, r.out) == (2, "")
    _assert_one_line_naming(r.err, path, "not valid JSON")


def test_not_a_trace_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": "world"}')
    r = run_cli("replay", str(path))
    assert r.code == 2
    _assert_one_line_naming(r.err, path, "not a cacherace trace")


@pytest.mark.parametrize(("version", "fix"), [(99, "upgrade cacherace"), (0, "re-create it")])
def test_wrong_version_exits_2(
    broken_run: VerifyRun, tmp_path: Path, version: int, fix: str
) -> None:
    path = _edited(broken_run, tmp_path, lambda d: d.update(version=version))
    r = run_cli("replay", str(path))
    assert (r.code, r.out) == (2, "")
    _assert_one_line_naming(r.err, path, f"version {version}", fix)


def test_tampered_history_exits_1_naming_the_first_difference(
    broken_run: VerifyRun, request: pytest.FixtureRequest, tmp_path: Path,
    no_leaked_servers: Path,
) -> None:  # fmt: skip
    events = json.loads(_trace_of(broken_run).read_text())["history"]["events"]
    [index] = [e["index"] for e in events if e.get("command") == "GET cr:k1"]
    assert events[index]["result"] == "None"  # the read's cache miss...

    def edit(data: dict[str, Any]) -> None:
        data["history"]["events"][index]["result"] = "k1.0"  # ...now claims a hit

    path = _edited(broken_run, tmp_path, edit)
    r = run_cli("replay", str(path), "--quiet", *backend_args(request.config))
    assert r.code == 1, r.out + r.err
    assert r.err == ""
    assert f"history: NOT reproduced - event #{index} differs in result:" in r.out
    assert "trace:  step(" in r.out and "result='k1.0'" in r.out
    assert "replay: step(" in r.out and "result='None'" in r.out


def test_untouched_copy_replays_in_process(
    broken_run: VerifyRun, request: pytest.FixtureRequest, tmp_path: Path,
    no_leaked_servers: Path,
) -> None:  # fmt: skip
    path = Path(shutil.copy(_trace_of(broken_run), tmp_path / "copy.json"))
    r = run_cli("replay", str(path), "--color", "never", *backend_args(request.config))
    assert r.code == 0, r.out + r.err
    assert r.out.startswith(f"replayed {path}: cache-aside, claim converges, 5 steps")
    assert "═ end" in r.out  # the diagram, without --quiet
    assert "history: reproduced" in r.out and "verdict: reproduced" in r.out


CHANGED = '''
from cacherace.strategies.cache_aside import CacheAside


class NoFill(CacheAside):
    """cache-aside changed: a read no longer fills the cache."""

    def read(self, key):
        cached = self.redis.get(self.settings.cache_key(key))
        if cached is not None:
            return cached
        row = self.db.execute(
            f"SELECT value FROM {self.settings.table} WHERE key = %s", (key,)
        ).fetchone()
        return None if row is None else row[0]
'''


def test_a_changed_strategy_draws_both_histories_from_the_first_difference(
    broken_run: VerifyRun, request: pytest.FixtureRequest, tmp_path: Path,
    no_leaked_servers: Path,
) -> None:  # fmt: skip
    (tmp_path / "changed.py").write_text(CHANGED)
    path = _edited(
        broken_run, tmp_path, lambda d: d.update(strategy=f"{tmp_path}/changed.py:NoFill")
    )
    r = run_cli("replay", str(path), "--color", "never", *backend_args(request.config))
    assert r.code == 1, r.out + r.err
    [head] = [ln for ln in r.out.splitlines() if ln.startswith("first difference at event #")]
    index = int(head.split("#")[1].rstrip(":"))
    assert f"history: NOT reproduced - event #{index} differs" in r.out
    lines = r.out.splitlines()
    at = lines.index(head)
    assert lines[at + 1].startswith("recorded (trace)") and "┃ this run" in lines[at + 1]
    rows = [ln for ln in lines[at:] if " ┃ " in ln and ln[:3].strip().isdigit()]
    assert rows and int(rows[0][:3]) == index  # both sides start at the difference
    left = [ln.split(" ┃ ")[0] for ln in rows]
    right = [ln.split(" ┃ ")[1] for ln in rows if len(ln.split(" ┃ ")) > 1]
    assert any("SET k1" in ln for ln in left)  # the recorded read filled the cache...
    assert not any("SET k1" in ln for ln in right)  # ...the changed one does not
    assert "converges: BROKEN" in r.out  # the recorded verdict, beside this run's
    assert "replay: converges: UNKNOWN - nothing was cached" in r.out
