"""No server outlives the process that started it: normal exit, an exception,
SIGTERM, SIGKILL, and a failing or terminated pytest session."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cacherace.servers import BackendUnavailable, open_backend

try:
    open_backend("local")
except BackendUnavailable as e:
    pytest.skip(f"needs local servers: {e}", allow_module_level=True)

STARTER = textwrap.dedent(
    """
    import json, os, sys
    from cacherace.servers import open_backend
    b = open_backend("local")
    servers = [b.redis("none"), b.redis("aof-always"), b.postgres()]
    print(json.dumps([[s.pid for s in servers], [str(s.dir) for s in servers]]), flush=True)
    mode = sys.argv[1]
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "wait":
        sys.stdin.read()  # until the test signals us
    """
)


def running_in_groups(pgids: list[int]) -> list[str]:
    """Processes (not zombies) whose process group is one of ``pgids``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp ...
        if int(fields[2]) in pgids and fields[0] not in ("Z", "X"):
            found.append(f"pid {entry} state {fields[0]}: {stat[:60]}")
    return found


def assert_all_gone(pgids: list[int]) -> None:
    # SIGKILL delivery and PostgreSQL helpers noticing their postmaster died are
    # asynchronous: poll until they are gone, bounded by a deadline.
    deadline = time.monotonic() + 10
    while (left := running_in_groups(pgids)) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert not left, left


@pytest.mark.parametrize("mode", ["exit", "raise", "SIGTERM", "SIGKILL"])
def test_servers_die_with_their_process(mode: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STARTER,
            "exit" if mode == "exit" else "raise" if mode == "raise" else "wait",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    pids, dirs = json.loads(proc.stdout.readline())
    if mode.startswith("SIG"):
        assert running_in_groups(pids)  # they really ran (until we signal)
        proc.send_signal(getattr(signal, mode))
    proc.communicate(timeout=30)
    assert_all_gone(pids)
    if mode.startswith("SIG"):  # a bare script killed runs no cleanup: the test does
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    else:  # a process that could clean up removed its servers' directories too
        assert not [d for d in dirs if Path(d).exists()]


PLUGIN_TEST = textwrap.dedent(
    """
    import json, os

    def test_uses_servers(cacherace_servers):
        r, pg = cacherace_servers
        with open(os.environ["PIDS_FILE"], "w") as f:
            json.dump([r.pid, pg.pid], f)
        if os.environ.get("HOLD"):
            os.read(0, 1)  # block until the test kills us
        assert False, "deliberately failing"
    """
)


@pytest.mark.parametrize("how", ["failing", "SIGTERM"])
def test_pytest_session_cleans_up(how: str, tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(PLUGIN_TEST)
    pids_file = tmp_path / "pids.json"
    env = {**os.environ, "PIDS_FILE": str(pids_file), "HOLD": "1" if how == "SIGTERM" else ""}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
        text=True,
    )
    if how == "SIGTERM":
        deadline = time.monotonic() + 30
        while not pids_file.exists() or not pids_file.read_text():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    pids = json.loads(pids_file.read_text())
    assert_all_gone(pids)
