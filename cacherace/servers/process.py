"""Child server processes: spawn, wait until ready, SIGKILL, reap. No leaks.

Each server runs in its own session (process group), so a crash kills the
server and every helper it forked (PostgreSQL backends) at once, and nothing is
left holding its port or shared memory. We always wait() on our own child:
killed processes linger as zombies here for 1.5-2 s if nobody reaps them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from .base import BackendError

_PR_SET_PDEATHSIG = 1
_LIVE: set[ServerProcess] = set()
_LIVE_LOCK = threading.Lock()

# Readiness polls wait this long between tries: tight, bounded by a deadline.
POLL_S = 0.002


def free_port() -> int:
    """A port on 127.0.0.1 that nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Watched(Protocol):
    """What wait_until needs of a server: a process here, a container elsewhere."""

    @property
    def alive(self) -> bool: ...
    @property
    def returncode(self) -> int | None: ...
    def log_tail(self, lines: int = 15) -> str: ...
    def kill(self) -> None: ...


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str, proc: Watched) -> float:
    """Poll ``ready`` until true; return the elapsed ms. Fails fast if the process died."""
    start = time.perf_counter()
    deadline = start + timeout
    while True:
        if ready():
            return (time.perf_counter() - start) * 1000
        if not proc.alive:
            raise BackendError(
                f"{what} exited with code {proc.returncode} before it was ready; "
                f"its log says:\n{proc.log_tail()}"
            )
        if time.perf_counter() > deadline:
            proc.kill()
            raise BackendError(
                f"{what} was not ready within {timeout:.0f} s; its log says:\n{proc.log_tail()}"
            )
        time.sleep(POLL_S)


def _proc_stat(pid: int | str) -> tuple[str, int] | None:
    """(state, ppid) from /proc/PID/stat, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` in the process tree (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _proc_stat(entry)) is not None:
            children.setdefault(st[1], []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_dead(pids: list[int], timeout: float = 10.0) -> None:
    """Poll until each pid is a zombie or gone (their reaping is init's job, not ours)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while (st := _proc_stat(pid)) is not None and st[0] not in ("Z", "X"):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"process {pid} survived SIGKILL for {timeout:.0f} s (state {st[0]}); "
                    "it may be stuck in the kernel (disk I/O): check the machine"
                )
            time.sleep(POLL_S)


def wait_state(pids: list[int], state: str, timeout: float = 10.0) -> None:
    """Poll until each pid is in ``state`` (e.g. "T", stopped) or gone."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while (st := _proc_stat(pid)) is not None and st[0] not in (state, "Z", "X"):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"process {pid} did not reach state {state} within {timeout:.0f} s "
                    f"(it is {st[0]}); check the machine"
                )
            time.sleep(POLL_S)


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """preexec hook: the kernel SIGKILLs the server if the suite's process dies.

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only
    safe when spawning from the main thread; elsewhere atexit hooks are the net.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # parent already gone before prctl
            os._exit(1)

    return hook


class ServerProcess:
    """One server process (and its process group) that we started and must reap."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        run_as: tuple[int, int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.run_as = run_as  # (uid, gid) to drop to when we are root
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        if self.alive:
            raise BackendError(f"{self.argv[0]} is already running (pid {self.pid})")
        extra: dict[str, object] = {}
        if self.run_as is not None:
            extra = {"user": self.run_as[0], "group": self.run_as[1], "extra_groups": []}
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=self.env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(os.getpid()),
                    **extra,  # type: ignore[arg-type,call-overload]
                )
            except OSError as e:
                raise BackendError(
                    f"cannot start {self.argv[0]}: {e}; check the binary exists and is executable"
                ) from e
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def alive(self) -> bool:
        # poll() reaps our child; /proc alone would show a zombie as present.
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the server and every process it forked, reap it, wait until all are dead.

        The process group is not enough: PostgreSQL backends call setsid(), so
        they are found by parentage. The leader is stopped first so it cannot
        fork while we collect its children. Returning only once every victim is
        dead means nothing a killed backend was doing can still land (a COMMIT
        arriving after the "crash", a write into the data dir after restart).
        """
        proc = self._proc
        if proc is None:
            return
        victims: list[int] = []
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGSTOP)
            victims = descendants(proc.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        wait_dead(victims)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def pause(self) -> None:
        """SIGSTOP the server and every process it forked: a hang, not a crash. The
        leader stops first so it cannot fork meanwhile; returns once all are stopped,
        so nothing is served after this returns."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise BackendError(f"{self.argv[0]} is not running: start it before pausing it")
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGSTOP)
        victims = [proc.pid, *descendants(proc.pid)]
        for pid in victims[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        wait_state(victims, "T")

    def resume(self) -> None:
        """SIGCONT everything pause() stopped (and anything else in the tree)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for pid in [*descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def terminate(self, sig: int, timeout: float = 10.0) -> None:
        """Ask for a clean shutdown with ``sig``; SIGKILL if it takes too long."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self.kill()  # still kill the group: helpers may outlive the leader
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        self.kill()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty)"


def kill_all() -> None:
    """Kill every server this process started and still runs (atexit, signals)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for p in live:
        p.kill()


atexit.register(kill_all)
