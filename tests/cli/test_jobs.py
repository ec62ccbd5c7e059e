"""``cacherace verify --jobs N``: the same answers as one process, bad values refused,
and no server outlives an interrupted or half-dead run."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.explore.test_honest import HERE
from tests.waits import wait_for, wait_gone

from .helpers import backend_args, pids_under, run_cli, run_cli_process, servers_reaped

#: a scope that takes seconds, searched to its end (no budget binds): one tier, one
#: preemption, a few random examples
SMALL = (
    "--tier", "concurrency", "--preemptions", "1", "--mode", "both",
    "--exhaustive-seconds", "0", "--exhaustive-schedules", "0", "--max-examples", "5",
    "--quiet",
)  # fmt: skip
#: one claim that breaks (the stale set) and one that holds (full search)
TWO_CLAIMS = ("--claim", "converges", "--claim", "no-aborted-reads")


def verify_json(config: pytest.Config, tmp: Path, *argv: str) -> list[dict[str, Any]]:
    """``cacherace verify ARGV`` in a subprocess; its cells without their timings."""
    out = tmp / f"out-{len(list(tmp.iterdir()))}.json"
    with servers_reaped():  # the workers' servers included (TMPDIR is inherited)
        r = run_cli_process("verify", *argv, *SMALL, "--json", str(out),
                            "--trace-dir", str(tmp / "traces"), *backend_args(config))  # fmt: skip
    assert r.code == 1, r.out + r.err  # converges is broken: exit 1, no harness error
    cells = json.loads(out.read_text())["results"]
    for cell in cells:
        del cell["seconds"]
    return list(cells)


def test_jobs_2_gives_what_jobs_1_gives(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Both splits: by strategy (two strategies) and by workload (one strategy, all
    claims; and one claim, where the search stops once it broke)."""
    both = ("--strategy", "cache-aside", "--strategy", "write-through", *TWO_CLAIMS)
    one = [c for c in verify_json(request.config, tmp_path, *both, "--jobs", "1")]
    assert one == verify_json(request.config, tmp_path, *both, "--jobs", "2")
    alone = verify_json(request.config, tmp_path, "--strategy", "cache-aside", *TWO_CLAIMS,
                        "--jobs", "2")  # fmt: skip
    assert alone == [c for c in one if c["strategy"] == "cache-aside"]
    assert {(c["claim"], c["verdict"]) for c in alone} == {
        ("converges", "broken"), ("no-aborted-reads", "holds")
    }  # fmt: skip
    assert all(c["evidence"]["complete"] and c["evidence"]["schedules"] for c in alone)
    stop = ("--strategy", "cache-aside", "--claim", "converges")
    first = verify_json(request.config, tmp_path, *stop, "--jobs", "1")
    assert first == verify_json(request.config, tmp_path, *stop, "--jobs", "2")
    # the search stopped after the break's workloads: fewer schedules than the full one
    assert first[0]["evidence"]["schedules"] < alone[0]["evidence"]["schedules"]


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_jobs_values_exit_2_with_one_line(value: str) -> None:
    r = run_cli("verify", f"--jobs={value}", "--backend", "url")  # no server is reached
    assert r.code == 2 and r.out == ""
    assert r.err_lines == [
        f"cacherace verify: --jobs needs a whole number of worker processes, 1 or more, "
        f"got {value!r} (e.g. --jobs 2 on a 2-core machine)"
    ]


def test_harness_error_in_a_worker_exits_2(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    r = run_cli_process(
        "verify", "--strategy", f"{HERE}:BrokenThenBoom", "--tier", "concurrency",
        "--max-examples", "5", "--quiet", "--trace-dir", str(tmp_path), "--jobs", "2",
        "--mode", "exhaustive", *backend_args(request.config),
    )  # fmt: skip
    shown = r.out + r.err
    assert r.code == 2, shown
    assert "BROKEN" in r.out and "ERROR" in r.out, shown  # the break kept, the error shown
    assert "Boom (the write blew up)" in r.out, shown  # the worker's error, with its schedule
    assert "(schedule: start c0)" in r.out, shown


# -- no leaks ---------------------------------------------------------------------
#: long enough to be stopped in the middle: every schedule of two tiers, no cap
LONG = ("verify", "--strategy", "cache-aside", "--mode", "exhaustive", "--tier", "time",
        "--exhaustive-seconds", "0", "--jobs", "2", "--quiet")  # fmt: skip


def _children(pid: int, needle: bytes) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and needle in cmdline:
            found.append(int(entry))
    return found


def _ready_postgres(root: Path) -> int:
    """PostgreSQL servers under ``root`` that said they are ready (postmaster.pid)."""
    ready = 0
    for pid_file in root.glob("cacherace-pg-*/data/postmaster.pid"):
        with contextlib.suppress(OSError):
            lines = pid_file.read_text().splitlines()
            ready += len(lines) >= 8 and lines[7].strip() == "ready"
    return ready


def _postgres_dirs(root: Path) -> list[Path]:
    """Where a server's postmaster.pid appears: its data directory, in its own under ``root``."""
    return [root, *root.glob("cacherace-pg-*"), *root.glob("cacherace-pg-*/data")]


@pytest.mark.parametrize("how", ["ctrl-c", "worker-sigkill"])
def test_no_server_outlives_an_interrupted_run(
    request: pytest.FixtureRequest, tmp_path: Path, how: str
) -> None:
    # PostgreSQL may run as another user: its data dir must be reachable (not under
    # pytest's 0700 tmp_path)
    root = Path(tempfile.mkdtemp(prefix="cacherace-jobs-test-"))
    root.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cacherace.cli.main", *LONG, "--trace-dir", str(tmp_path),
         *backend_args(request.config)],
        env={**os.environ, "TMPDIR": str(root)}, cwd=tmp_path, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # this process's servers and each worker's, started and ready: a stop in the
        # middle of exploring, not of starting a server. Start-up is asynchronous: we
        # look again at each change where postmaster.pid appears, or at the run's exit
        ready = wait_for(lambda: _ready_postgres(root) >= 3 or proc.poll() is not None,
                         lambda: _postgres_dirs(root), timeout=60, pid=proc.pid)  # fmt: skip
        assert ready, "timed out waiting until the workers started their servers"
        assert proc.poll() is None, proc.communicate()
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
        else:
            os.kill(_children(proc.pid, b"spawn_main")[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if how == "ctrl-c":
        assert proc.returncode == 130, out + err
    else:  # a harness error, never a verdict; the dead worker's servers are gone too
        assert proc.returncode == 2, out + err
        assert "died (signal 9)" in out, out
    # process death is asynchronous: wait for the exits (pidfds)
    left = wait_gone(lambda: pids_under(root), timeout=60)
    assert not left, f"timed out waiting until every server is gone: {left}"
    assert not list(root.iterdir()), "temporary directories left behind"
