"""No container outlives its run: Ctrl-C removes them at once; a SIGKILLed run's are
removed by the next run's sweep (the local reaper), which never touches a live run's."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cacherace.servers import Backend
from cacherace.servers.containers import ContainerProvider, docker_client
from cacherace.servers.reaper import OWNER_LABEL, labelled
from tests.waits import on_exit

pytestmark = pytest.mark.containers

HOLDER = textwrap.dedent(
    """
    import sys
    from cacherace.servers import open_backend
    b = open_backend("container")
    b.redis("none"), b.postgres()
    print("ready", flush=True)
    sys.stdin.read()  # until the test signals us or closes stdin
    """
)


@pytest.fixture
def docker(container_backend: Backend) -> Iterator[object]:
    client = docker_client()
    yield client
    client.close()


def owned_by(client: object, pid: int) -> list[str]:
    """Ids of containers, running or not, labelled as owned by process ``pid``."""
    return [c["Id"] for c in labelled(client, OWNER_LABEL)
            if c["Labels"][OWNER_LABEL].split("/")[2] == str(pid)]  # fmt: skip


def wait_for_containers(client: Any, proc: subprocess.Popen[str], count: int) -> None:
    """Until ``count`` containers are owned by the run: counted once, then again at each
    container created; the event stream ends at the timeout, or when the run exits."""
    timeout = 120
    now = int(time.time())
    # opened before the first count (and from a second earlier): no creation is missed
    events = client.api.events(
        since=now - 1, until=now + timeout, decode=True,
        filters={"type": "container", "event": "create", "label": OWNER_LABEL},
    )  # fmt: skip
    try:
        with on_exit(proc.pid, events.close, timeout):
            for _ in itertools.chain([None], events):
                if len(owned_by(client, proc.pid)) >= count:
                    return
    finally:
        events.close()
    assert proc.poll() is None, proc.communicate()
    raise AssertionError("the run never started its containers")


@pytest.fixture
def start() -> Iterator[Callable[[list[str]], subprocess.Popen[str]]]:
    """Start a run; whatever the test's outcome, the run is SIGKILLed and reaped after."""
    started: list[subprocess.Popen[str]] = []

    def run(argv: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        started.append(proc)
        return proc

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    if started:  # a failed test's run was SIGKILLed: sweep what it left
        ContainerProvider().close()


VERIFY = [sys.executable, "-m", "cacherace.cli.main", "verify", "--backend", "container",
          "--strategy", "cache-aside", "--quiet", "--max-examples", "1000"]  # fmt: skip


def test_ctrl_c_of_a_verify_run_leaves_no_container(
    docker: object, tmp_path: object, start: Callable[[list[str]], subprocess.Popen[str]]
) -> None:
    proc = start([*VERIFY, "--trace-dir", str(tmp_path)])
    wait_for_containers(docker, proc, 2)  # Redis and PostgreSQL, mid-exploration
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "cacherace: interrupted" in out and "Traceback" not in out
    assert owned_by(docker, proc.pid) == []  # counted right after exit: no reaper needed


def test_a_sigkilled_run_is_swept_by_the_next(
    docker: object, tmp_path: object, start: Callable[[list[str]], subprocess.Popen[str]]
) -> None:
    proc = start([*VERIFY, "--trace-dir", str(tmp_path)])
    wait_for_containers(docker, proc, 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    left = owned_by(docker, proc.pid)
    assert len(left) == 2  # a SIGKILLed run cleans up nothing: the reaper must
    swept = ContainerProvider()  # the next run starts
    swept.close()
    assert sorted(swept.swept) >= sorted(left)
    assert owned_by(docker, proc.pid) == []


def test_the_sweep_never_touches_a_live_run(
    docker: object, start: Callable[[list[str]], subprocess.Popen[str]]
) -> None:
    proc = start([sys.executable, "-c", HOLDER])
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    mine = owned_by(docker, proc.pid)
    assert len(mine) == 2
    ContainerProvider().close()  # another run (an xdist worker) starts and sweeps
    assert owned_by(docker, proc.pid) == mine
    proc.communicate(timeout=60)  # stdin closed: the holder exits normally
    assert proc.returncode == 0
    assert owned_by(docker, proc.pid) == []
    assert os.getpid() != proc.pid
