"""Local servers' directories: a SIGKILLed run's are removed when the next run starts;
a live run's (another xdist worker's) never are."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cacherace.servers import BackendUnavailable, open_backend
from cacherace.servers.local import LocalProvider
from cacherace.servers.reaper import Owner, dir_prefix, start_time, sweep_dirs

try:
    LocalProvider()
except BackendUnavailable as e:
    pytest.skip(f"needs local servers: {e}", allow_module_level=True)

HOLDER = textwrap.dedent(
    """
    import json, sys
    from cacherace.servers import open_backend
    b = open_backend("local")
    servers = [b.redis("none"), b.redis("aof-always"), b.postgres()]
    print(json.dumps([str(s.dir) for s in servers]), flush=True)
    sys.stdin.read()
    """
)


def hold() -> tuple[subprocess.Popen[str], list[Path]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, [Path(d) for d in json.loads(proc.stdout.readline())]


def test_a_sigkilled_runs_directories_are_removed_by_the_next_run() -> None:
    proc, dirs = hold()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert all(d.is_dir() for d in dirs)  # a SIGKILLed run removes nothing itself
    LocalProvider()  # the next run starts
    assert [d for d in dirs if d.exists()] == []


def test_a_live_runs_directories_are_left_alone() -> None:
    proc, dirs = hold()
    try:
        with open_backend("local") as mine:
            own = mine.redis("none").dir
            removed = sweep_dirs()
            assert own.is_dir() and own not in removed
        assert all(d.is_dir() for d in dirs) and not set(dirs) & set(removed)
    finally:
        proc.communicate(timeout=30)  # stdin closed: it exits and removes its own
    assert [d for d in dirs if d.exists()] == []


def test_directories_name_their_owner(tmp_path: Path) -> None:
    me = Owner.me()
    assert me.start == start_time(me.pid)
    assert dir_prefix("pg") == f"cacherace-pg-p{me.pid}.{me.start}-"
    live = tmp_path / f"{dir_prefix('redis-aof-always')}x"
    dead = tmp_path / f"cacherace-pg-p{me.pid}.{me.start + 1}-x"  # a recycled pid: not us
    legacy = tmp_path / "cacherace-pg-abc123"  # no owner in the name: never guessed at
    for d in (live, dead, legacy):
        d.mkdir()
    assert sweep_dirs(tmp_path) == [dead]
    assert live.is_dir() and legacy.is_dir()
