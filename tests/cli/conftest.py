"""One ``cacherace verify`` run of a cell known to break, shared by the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import CliResult, backend_args, run_cli, servers_reaped, skip_without_servers

#: The article's stale-set race: found by concurrency alone, shrinks to 5 driver calls.
BROKEN_CELL = (
    "--strategy", "cache-aside", "--claim", "converges",
    "--max-examples", "100", "--tier", "concurrency", "--seed", "0", "--mode", "random",
)  # fmt: skip


@dataclass(frozen=True)
class VerifyRun:
    result: CliResult
    json_path: Path
    html_path: Path
    trace_dir: Path

    @property
    def junit_path(self) -> Path:
        return self.json_path.with_name("out.xml")

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.json_path.read_text())
        return data


def verify_broken_cell(config: pytest.Config, where: Path) -> VerifyRun:
    """Run the broken cell in-process, writing --json, --html and traces under ``where``;
    checks that no server it started outlives it."""
    json_path, html_path, trace_dir = where / "out.json", where / "out.html", where / "traces"
    with servers_reaped():
        result = run_cli(
            "verify", *BROKEN_CELL, "--quiet", "--color", "never",
            "--json", str(json_path), "--html", str(html_path),
            "--junit", str(where / "out.xml"),
            "--trace-dir", str(trace_dir), *backend_args(config),
        )  # fmt: skip
    skip_without_servers(result)
    return VerifyRun(result, json_path, html_path, trace_dir)


@pytest.fixture(scope="session")
def broken_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> VerifyRun:
    return verify_broken_cell(request.config, tmp_path_factory.mktemp("verify-broken"))


@pytest.fixture
def no_leaked_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Servers the test starts (in-process or in a child process) are gone at its end."""
    tmp_path_factory.getbasetemp()  # pytest's own temporary root, fixed before ours
    with servers_reaped() as root:
        yield root
