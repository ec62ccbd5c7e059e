"""No server outlives the process that started it: normal exit, an exception,
SIGTERM, SIGKILL, and a failing or terminated pytest session."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cacherace.servers import BackendUnavailable, open_backend
from tests.waits import wait_gone

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


def running_in_groups(pgids: list[int]) -> dict[int, str]:
    """Processes (not zombies) whose process group is one of ``pgids``: pid -> what it is."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp ...
        if int(fields[2]) in pgids and fields[0] not in ("Z", "X"):
            found[int(entry)] = f"pid {entry} state {fields[0]}: {stat[:60]}"
    return found


def assert_all_gone(pgids: list[int]) -> None:
    # SIGKILL delivery and PostgreSQL helpers noticing their postmaster died are
    # asynchronous: wait for the exits (pidfds), bounded by a timeout.
    left = wait_gone(lambda: running_in_groups(pgids), timeout=10)
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
        if os.environ.get("HOLD"):  # the write end of the test's pipe
            os.write(int(os.environ["HOLD"]), b"written")  # the file is complete
            os.read(0, 1)  # block until the test kills us
        assert False, "deliberately failing"
    """
)


@pytest.mark.parametrize("how", ["failing", "SIGTERM"])
def test_pytest_session_cleans_up(how: str, tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(PLUGIN_TEST)
    pids_file = tmp_path / "pids.json"
    written, write_end = os.pipe()  # the inner test says on it when the pids file is written
    hold = how == "SIGTERM"
    env = {**os.environ, "PIDS_FILE": str(pids_file), "HOLD": str(write_end) if hold else ""}
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
        pass_fds=(write_end,) if hold else (),
    )
    os.close(write_end)  # only the child holds it: EOF if it ends without saying
    try:
        if hold:
            ready, _, _ = select.select([written], [], [], 30)
            assert ready, "the inner test wrote no pids file within 30 s"
            assert os.read(written, 16) == b"written"  # b"": it ended before writing them
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
    finally:
        os.close(written)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    pids = json.loads(pids_file.read_text())
    assert_all_gone(pids)
