"""Smoke runs of ``cacherace bench``: the JSON schema and sane numbers, never timings.

The full benchmark (every broken cell, five seeds) is marked slow: `pytest -m slow`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cacherace.cli.bench.races import Cell, SeedRun, summarize

STEP_KEYS = {"raw_us", "controlled_us", "ratio"}
RACE_KEYS = {
    "strategy", "claim", "seeds", "examples_to_find_median", "seconds_to_find_median",
    "shrunk_steps_median", "shrunk_steps_min", "seeds_at_minimum", "baseline",
}  # fmt: skip
BASELINE_KEYS = {"seconds", "violations", "first_detection_s", "reachable"}


def _backend_args(config: pytest.Config) -> list[str]:
    opt = config.getoption
    args = ["--backend", opt("--cacherace-backend")]
    for flag, value in (("--redis-url", opt("--redis-url")),
                        ("--database-url", opt("--database-url")),
                        ("--pg-user", opt("--pg-user"))):  # fmt: skip
        if value:
            args += [flag, value]
    if opt("--allow-destructive"):
        args.append("--allow-destructive")
    return args


def _bench(config: pytest.Config, *args: str, timeout: float = 600) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "cacherace.cli.main", "bench", *args, *_backend_args(config)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode == 2 and "no way to get servers" in done.stderr.lower():
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # stdout is JSON only; progress went to stderr


def _check_schema(out: dict[str, Any]) -> None:
    assert set(out) >= {"step", "schedules_per_s", "memory_mb", "races"}
    assert set(out["step"]) == STEP_KEYS
    assert out["step"]["raw_us"] > 0 and out["step"]["controlled_us"] > 0
    assert out["step"]["ratio"] > 0
    assert set(out["aio_step"]) == STEP_KEYS and out["aio_step"]["ratio"] > 0
    assert out["schedules_per_s"] > 0
    assert out["memory_mb"] > 0
    for race in out["races"]:
        assert set(race) >= RACE_KEYS
        assert set(race["baseline"]) >= BASELINE_KEYS
        assert isinstance(race["baseline"]["reachable"], bool)


def test_smoke_cache_aside_converges(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    verify = tmp_path / "verify.json"  # skip discovery: name the cell directly
    verify.write_text(json.dumps({"results": [
        {"strategy": "cache-aside", "claim": "converges", "verdict": "broken",
         "tier": "concurrency"},
    ]}))  # fmt: skip
    out = _bench(request.config, "--seeds", "1", "--budget", "20", "--from-verify", str(verify),
                 "--step-cycles", "50", "--schedule-seconds", "0.3")  # fmt: skip
    _check_schema(out)
    [race] = out["races"]
    assert (race["strategy"], race["claim"], race["seeds"]) == ("cache-aside", "converges", 1)
    assert race["examples_to_find_median"] >= 1
    # the stale set: read misses, reads the row, write UPSERTs and DELs, read SETs
    assert race["shrunk_steps_min"] == 5 and race["seeds_at_minimum"] == 1
    base = race["baseline"]
    assert base["reachable"] is True and base["seconds"] > 0 and base["violations"] >= 0


def test_usage_errors_exit_2(request: pytest.FixtureRequest) -> None:
    cmd = [sys.executable, "-m", "cacherace.cli.main", "bench", "--strategy", "no-such"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown strategy" in done.stderr and done.stdout == ""
    done = subprocess.run([*cmd[:4], "--seeds", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2


def test_summarize_counts_seeds_at_the_minimum() -> None:
    runs = [SeedRun(0, 10, 0.1, 5), SeedRun(1, 30, 0.3, 7), SeedRun(2, 20, 0.2, 5), SeedRun(3)]
    row = summarize(Cell("s", "c", "concurrency"), runs)
    assert row["seeds"] == 4 and row["seeds_found"] == 3
    assert row["examples_to_find_median"] == 20 and row["seconds_to_find_median"] == 0.2
    shrunk = (row["shrunk_steps_median"], row["shrunk_steps_min"], row["seeds_at_minimum"])
    assert shrunk == (5, 5, 2)


@pytest.mark.slow
def test_full_bench(request: pytest.FixtureRequest) -> None:
    out = _bench(request.config, timeout=3600)
    _check_schema(out)
    assert out["races"], "the catalog has broken cells; discovery found none"
