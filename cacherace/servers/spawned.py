"""The lifecycle a server run as our own child process shares, whatever it is:
start and wait until it answers, crash (SIGKILL of the whole group), restart on
the same address and data, stop, close (and remove its directory)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .base import BackendError
from .process import ServerProcess, wait_until

START_TIMEOUT_S = 30.0


class Spawned:
    """Mixin for a server backed by a :class:`ServerProcess`. Subclasses set
    ``_proc``, ``dir``, ``port``, ``timings``, ``label`` and ``stop_signal``, and
    answer ``_ready()``."""

    _proc: ServerProcess
    dir: Path
    port: int
    timings: dict[str, float]
    label: str  # "redis-server", "postgres": for messages
    stop_signal: int  # what stop() sends for a clean shutdown

    def _ready(self) -> bool:
        raise NotImplementedError

    def _start(self, phase: str) -> None:
        t0 = time.perf_counter()
        self._proc.spawn()
        wait_until(
            self._ready,
            timeout=START_TIMEOUT_S,
            what=f"{self.label} on port {self.port}",
            proc=self._proc,
        )
        self.timings[phase] = (time.perf_counter() - t0) * 1000

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.alive

    _paused = False  # read through the server's ``paused`` property

    def crash(self) -> None:
        self._proc.kill()  # the whole group: no orphan (a PostgreSQL backend) survives
        self._paused = False  # SIGKILL reaches stopped processes too

    def pause(self) -> None:
        """SIGSTOP the server and its backends: connections stay open, nothing answers."""
        if not self._paused:
            self._proc.pause()
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._proc.resume()
            self._paused = False

    def restart(self) -> None:
        if self._proc.alive:
            raise BackendError(
                f"{self.label} on port {self.port} is running; crash() or stop() it before "
                "restart()"
            )
        self._proc.kill()  # reap leftovers of the group, if any
        self._start("restart")

    def stop(self) -> None:
        self.resume()  # a stopped process cannot act on the shutdown signal
        self._proc.terminate(self.stop_signal)

    def close(self) -> None:
        self._proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
