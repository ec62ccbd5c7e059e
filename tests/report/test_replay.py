"""Replay against real servers (the cacherace pytest plugin's ``cacherace_backend``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cacherace.cli import replay
from cacherace.engine.engine import Scheduler
from cacherace.explore.replay import ReplayError, record_trace, replay_trace
from cacherace.report.trace import load, save
from cacherace.servers import Backend, BackendUnavailable
from cacherace.strategies.registry import load_strategy

# The article's stale-set race: c0 misses and reads k1.0 from the database; c1
# writes k1.1 and invalidates; c0 then caches the old value.
STALE_SET = [
    {"do": "start", "process": "c0", "f": "read", "key": "k1"},
    {"do": "step", "process": "c0"},
    {"do": "step", "process": "c0"},
    {"do": "start", "process": "c1", "f": "write", "key": "k1", "value": "k1.1"},
    {"do": "step", "process": "c1"},
    {"do": "step", "process": "c1"},
]


def _servers(backend: Backend) -> tuple:
    try:
        return backend.redis("none"), backend.postgres()
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))


@pytest.fixture(scope="module")
def stale_set_trace(cacherace_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the race once, check ``converges``, save the trace; returns its path."""
    redis_server, pg = _servers(cacherace_backend)
    s = Scheduler(load_strategy("cache-aside"), redis_server, pg, clients=2, keys=("k1",))
    try:
        trace = record_trace(s, "cache-aside", "converges", STALE_SET, tier="concurrency")
    finally:
        s.close()
    assert trace.verdict.broken, trace.verdict
    assert (trace.clients, trace.keys, trace.persistence) == (2, ["k1"], "none")
    return save(trace, tmp_path_factory.mktemp("traces"))


def test_replay_reproduces_history_every_time(
    stale_set_trace: Path, cacherace_backend: Backend
) -> None:
    trace = load(stale_set_trace)
    results = [replay_trace(trace, cacherace_backend) for _ in range(20)]
    assert [r.first_difference for r in results] == [None] * 20
    assert all(r.same_history and r.same_verdict and r.reproduced for r in results)
    assert all(r.history == trace.history for r in results)
    assert all(r.verdict.broken for r in results)


def test_tampered_history_is_not_reproduced(
    stale_set_trace: Path, cacherace_backend: Backend, tmp_path: Path, server_args: list[str]
) -> None:
    data = json.loads(stale_set_trace.read_text())
    data["history"]["events"][1]["result"] = "k1.9"  # c0's GET did hit, says the forgery
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    result = replay_trace(load(forged), cacherace_backend)
    assert not result.same_history and result.same_verdict
    assert result.first_difference is not None
    assert result.first_difference.startswith("event #1 differs in result")
    assert _cli(str(forged), "--quiet", *server_args) == 1


def test_mismatched_trace_is_refused(stale_set_trace: Path, cacherace_backend: Backend) -> None:
    trace = load(stale_set_trace)
    trace.schedule = [*trace.schedule, {"do": "step", "process": "c7"}]
    with pytest.raises(ReplayError, match="c7"):
        replay_trace(trace, cacherace_backend)


@pytest.fixture
def server_args(request: pytest.FixtureRequest) -> list[str]:
    """The session's server options, as `cacherace replay` arguments."""
    opt = request.config.getoption
    args = ["--backend", opt("--cacherace-backend")]
    for name in ("--redis-url", "--database-url", "--pg-user"):
        if opt(name):
            args += [name, opt(name)]
    return args + (["--allow-destructive"] if opt("--allow-destructive") else [])


def _cli(*argv: str) -> int:
    # The same parser wiring as `cacherace replay` (cli.py's dispatcher).
    parser = argparse.ArgumentParser(prog="cacherace replay")
    replay.add_arguments(parser)
    return replay.run(parser.parse_args(list(argv)))


def test_cli_replays_a_trace(
    stale_set_trace: Path, server_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(str(stale_set_trace), "--color", "never", *server_args) == 0
    out = capsys.readouterr().out
    assert "◀ BROKEN" in out
    assert "history: reproduced" in out and "verdict: reproduced" in out


def test_cli_corrupt_trace_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "cacherace-trace", "version": 1, "sched')
    assert _cli(str(corrupt)) == 2
    err = capsys.readouterr().err
    assert err.startswith("cacherace replay: ") and str(corrupt) in err
    assert "not valid JSON" in err and len(err.splitlines()) == 1
