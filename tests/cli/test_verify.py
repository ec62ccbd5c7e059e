"""``cacherace verify`` end to end on real servers: exit codes, --json, --html, traces,
usage errors and users' strategies given as ``path.py:Class`` and ``module:Class``."""

from __future__ import annotations

import html
import json
import re
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import VerifyRun, verify_broken_cell
from .helpers import backend_args, run_cli, run_cli_process, skip_without_servers

#: --json's per-cell fields and their types (issue 5); more fields may follow.
CELL_TYPES: dict[str, type | tuple[type, ...]] = {
    "strategy": str,
    "claim": str,
    "verdict": str,
    "tier": (str, type(None)),
    "examples": int,
    "seconds": float,
    "steps": (int, type(None)),
    "trace": (str, type(None)),
    "diagram": (str, type(None)),
}


def check_cell_schema(cell: dict[str, Any]) -> None:
    assert set(CELL_TYPES) <= set(cell), sorted(set(CELL_TYPES) - set(cell))
    for name, kind in CELL_TYPES.items():
        value = cell[name]
        assert isinstance(value, kind) and not isinstance(value, bool), (name, value)
    assert cell["verdict"] in ("holds", "broken", "unknown")
    evidence = cell["evidence"]
    assert set(evidence) >= {"mode", "schedules", "scope", "complete"}, evidence
    assert evidence["mode"] in ("exhaustive", "random")
    assert isinstance(evidence["complete"], bool)
    if evidence["mode"] == "exhaustive":
        assert set(evidence["scope"]) == {"clients", "ops_per_client", "keys", "faults",
                                          "preemptions"}  # fmt: skip
    # at least one example or one exhaustive schedule decided it
    assert cell["examples"] + evidence["schedules"] >= 1 and cell["seconds"] >= 0


def check_report_schema(report: dict[str, Any]) -> None:
    assert set(report) == {"backend", "seed", "results"}
    assert isinstance(report["backend"], str) and report["backend"]
    assert isinstance(report["seed"], int) and not isinstance(report["seed"], bool)
    assert isinstance(report["results"], list)
    for cell in report["results"]:
        check_cell_schema(cell)


# -- a broken cell ----------------------------------------------------------------------
def test_broken_cell_exits_1_and_prints_matrix_and_diagram(broken_run: VerifyRun) -> None:
    r = broken_run.result
    assert r.code == 1, r.err
    assert re.search(r"^cache-aside +BROKEN \(concurrency, 5 steps\)", r.out, re.M), r.out
    [trace] = broken_run.trace_dir.glob("*.json")
    assert f"replay: cacherace replay {trace}" in r.out
    assert "═ end" in r.out  # the sequence diagram
    assert r.err == ""  # --quiet: no progress lines, no error


def test_json_matches_the_schema(broken_run: VerifyRun) -> None:
    report = broken_run.report()
    check_report_schema(report)
    assert report["seed"] == 0
    [cell] = report["results"]
    assert (cell["strategy"], cell["claim"]) == ("cache-aside", "converges")
    assert (cell["verdict"], cell["tier"], cell["steps"]) == ("broken", "concurrency", 5)
    assert cell["trace"] is not None and Path(cell["trace"]).is_file()
    assert Path(cell["trace"]).parent == broken_run.trace_dir
    assert cell["diagram"] is not None and f"trace: {cell['trace']}" in cell["diagram"]


def test_html_is_one_self_contained_page(broken_run: VerifyRun) -> None:
    page = broken_run.html_path.read_text(encoding="utf-8")
    [cell] = broken_run.report()["results"]
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.count("</html>") == 1
    # nothing to fetch: no scripts, stylesheets, images or frames from elsewhere
    for outside in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url("):
        assert outside not in page.lower(), outside
    assert not re.search(r"""href=["'](?!#)""", page), "links only within the page"
    # the matrix: a row for the strategy, a column for the claim, the cell broken
    assert '<table class="matrix">' in page
    assert "<th>cache-aside</th>" in page and "<th>converges</th>" in page
    assert "concurrency, 5 steps" in page
    # the diagram, verbatim (escaped) in a <pre>
    assert f"<pre>{html.escape(cell['diagram'])}</pre>" in page


def test_trace_replays(broken_run: VerifyRun, no_leaked_servers: Path) -> None:
    [cell] = broken_run.report()["results"]
    # a fresh process: the trace file alone must be enough
    r = run_cli_process("replay", cell["trace"], "--quiet")
    assert r.code == 0, r.out + r.err
    assert "history: reproduced" in r.out and "verdict: reproduced (converges broken" in r.out


def test_same_seed_same_result(
    broken_run: VerifyRun, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    again = verify_broken_cell(request.config, tmp_path)
    assert again.result.code == broken_run.result.code == 1
    [first], [second] = broken_run.report()["results"], again.report()["results"]
    for name in ("verdict", "tier", "steps", "examples", "reason", "needed"):
        assert first[name] == second[name], name
    # the same shrunk schedule: the same trace name and content (but its creation time)
    assert Path(first["trace"]).name == Path(second["trace"]).name
    saved = [json.loads(Path(c["trace"]).read_text()) for c in (first, second)]
    for data in saved:
        del data["created"]
    assert saved[0] == saved[1]
    assert second["diagram"] == first["diagram"].replace(first["trace"], second["trace"])


# -- holding cells ----------------------------------------------------------------------
def test_holding_cell_exits_0(
    request: pytest.FixtureRequest, tmp_path: Path, no_leaked_servers: Path
) -> None:
    out = tmp_path / "out.json"
    r = run_cli(
        "verify", "--strategy", "write-through", "--claim", "monotonic-reads",
        "--max-examples", "10", "--tier", "concurrency", "--quiet", "--json", str(out),
        "--trace-dir", str(tmp_path / "traces"), *backend_args(request.config),
    )  # fmt: skip
    skip_without_servers(r)
    assert r.code == 0, r.out + r.err
    report = json.loads(out.read_text())
    check_report_schema(report)
    [cell] = report["results"]
    assert cell["verdict"] == "holds" and cell["examples"] >= 10
    assert (cell["steps"], cell["trace"], cell["diagram"]) == (None, None, None)
    assert not (tmp_path / "traces").exists()  # nothing broke, nothing saved


# -- users' strategies ------------------------------------------------------------------
USER_STRATEGIES = textwrap.dedent(
    '''
    """Two strategies a user might write, outside the cacherace package."""

    from typing import ClassVar

    from cacherace.strategies import Strategy


    class DatabaseOnly(Strategy):
        """No cache at all: trivially converges and is fresh."""

        claims: ClassVar[tuple[str, ...]] = ("converges", "fresh-after-ack")

        def read(self, key):
            t = self.settings.table
            row = self.db.execute(f"SELECT value FROM {t} WHERE key = %s", (key,)).fetchone()
            return None if row is None else row[0]

        def write(self, key, value):
            t = self.settings.table
            self.db.execute(
                f"INSERT INTO {t} (key, value, version) VALUES (%s, %s, 1) "
                f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                f"version = {t}.version + 1",
                (key, value),
            )


    class CacheOnlyWrites(DatabaseOnly):
        """Writes go to the cache only: the database never learns of them."""

        claims: ClassVar[tuple[str, ...]] = ("converges",)

        def read(self, key):
            cached = self.redis.get(self.settings.cache_key(key))
            return cached if cached is not None else super().read(key)

        def write(self, key, value):
            self.redis.set(self.settings.cache_key(key), value, ex=self.settings.ttl)
    '''
)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """USER_STRATEGIES as an importable module (its directory on sys.path); its name."""
    name = f"cr_cli_user_{uuid.uuid4().hex[:8]}"
    (tmp_path / "pkgroot").mkdir()
    (tmp_path / "pkgroot" / f"{name}.py").write_text(USER_STRATEGIES)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgroot"))
    yield name
    sys.modules.pop(name, None)


def test_user_strategy_from_a_file(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_leaked_servers: Path,
) -> None:  # fmt: skip
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "cache.py").write_text(USER_STRATEGIES)
    monkeypatch.chdir(tmp_path)  # a relative path/to/file.py, as a user types it
    out = tmp_path / "out.json"
    r = run_cli(
        "verify", "--strategy", "myapp/cache.py:DatabaseOnly", "--max-examples", "10",
        "--tier", "concurrency", "--quiet", "--json", str(out), *backend_args(request.config),
    )  # fmt: skip
    skip_without_servers(r)
    assert r.code == 0, r.out + r.err
    cells = json.loads(out.read_text())["results"]
    # It never caches: converges observed no cached value, so it cannot hold.
    assert {(c["strategy"], c["claim"], c["verdict"]) for c in cells} == {
        ("myapp/cache.py:DatabaseOnly", "converges", "unknown"),
        ("myapp/cache.py:DatabaseOnly", "fresh-after-ack", "holds"),
    }


def test_user_strategy_from_a_module(
    request: pytest.FixtureRequest, tmp_path: Path, user_module: str, no_leaked_servers: Path
) -> None:
    spec = f"{user_module}:CacheOnlyWrites"
    out = tmp_path / "out.json"
    r = run_cli(
        "verify", "--strategy", spec, "--max-examples", "20", "--tier", "concurrency",
        "--quiet", "--json", str(out), "--trace-dir", str(tmp_path / "traces"),
        *backend_args(request.config),
    )  # fmt: skip
    skip_without_servers(r)
    assert r.code == 1, r.out + r.err
    [cell] = json.loads(out.read_text())["results"]
    check_cell_schema(cell)
    assert (cell["strategy"], cell["verdict"], cell["tier"]) == (spec, "broken", "concurrency")
    assert cell["steps"] == 1  # one SET that never reaches the database
    # the trace names the user's class and replays (same sys.path, this process)
    assert json.loads(Path(cell["trace"]).read_text())["strategy"] == spec
    replayed = run_cli("replay", cell["trace"], "--quiet", *backend_args(request.config))
    assert replayed.code == 0, replayed.out + replayed.err


# -- usage errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--strategy", "no-such-strategy"], "unknown strategy 'no-such-strategy'"),
        (["--claim", "no-such-claim"], "unknown claim 'no-such-claim'"),
        (["--max-examples", "0"], "--max-examples must be at least 1, got 0"),
        (["--strategy", "no_such_module_xyz:Cls"], "cannot import module 'no_such_module_xyz'"),
        (["--strategy", "missing/file.py:Cls"], "no such file: 'missing/file.py'"),
        (["--strategy", "json:dumps"], "'json:dumps' is not a strategy"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], cause: str) -> None:
    r = run_cli("verify", *args, "--backend", "url")  # no server is ever reached
    assert r.code == 2
    assert r.out == ""
    assert r.err_lines == [r.err_lines[0]] and r.err_lines[0].startswith("cacherace verify: ")
    assert cause in r.err


@pytest.mark.parametrize(
    ("source", "causes"),
    [
        ("def broken(:\n", ["SyntaxError: ", "(broken.py, line 1)"]),
        ("x = 1\nraise RuntimeError('no config')\n", ["RuntimeError: no config at ", "py:2"]),
    ],
)
def test_user_module_that_fails_to_import_exits_2(
    tmp_path: Path, source: str, causes: list[str]
) -> None:
    """Exit 2 (not a traceback and 1, which would read as "a claim is broken")."""
    (tmp_path / "broken.py").write_text(source)
    r = run_cli("verify", "--strategy", f"{tmp_path}/broken.py:S", "--backend", "url")
    assert r.code == 2, r.err
    assert len(r.err_lines) == 1 and "cannot load strategy" in r.err, r.err
    assert all(cause in r.err for cause in causes), r.err


def test_unknown_option_value_exits_2() -> None:
    r = run_cli("verify", "--tier", "no-such-tier")
    assert r.code == 2 and "invalid choice: 'no-such-tier'" in r.err


def test_junit_has_one_failing_testcase_per_broken_cell(broken_run: VerifyRun) -> None:
    import xml.etree.ElementTree as ET

    suite = ET.parse(broken_run.junit_path).getroot()
    [cell] = broken_run.report()["results"]
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "1", "0")
    [case] = suite.findall("testcase")
    assert (case.get("classname"), case.get("name")) == ("cache-aside", "converges")
    [failure] = case.findall("failure")
    assert "├" in (failure.text or "") and f"cacherace replay {cell['trace']}" in failure.text
