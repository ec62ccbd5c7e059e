"""Waiting for asynchronous OS events without sleeping: a process's exit (a pidfd turns
readable), a change in a directory (inotify). Each wait blocks on the event itself,
bounded by a timeout, and then looks again: no polling loop, no sleep."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import math
import os
import select
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from types import TracebackType


def wait_exited(pids: Iterable[int], timeout: float) -> None:
    """Block until each of ``pids`` has exited (a zombie has) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    fds: list[int] = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # already gone and reaped
                fds.append(os.pidfd_open(pid))
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        waiting = len(fds)
        while waiting and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(math.ceil(left * 1000)):
                poller.unregister(fd)  # exited: readable for good
                waiting -= 1
    finally:
        for fd in fds:
            os.close(fd)


def wait_gone(find: Callable[[], dict[int, str]], timeout: float) -> list[str]:
    """Wait until ``find`` (pid -> description of each live process it matches) finds
    nothing: wait for the exits of those it found, then look again, since another may
    have started meanwhile. Returns the descriptions still found at the timeout."""
    deadline = time.monotonic() + timeout
    while (found := find()) and (left := deadline - time.monotonic()) > 0:
        wait_exited(found, left)
    return list(found.values())


@contextlib.contextmanager
def on_exit(pid: int, action: Callable[[], None], timeout: float) -> Iterator[None]:
    """Inside the block, ``action()`` runs (in a thread) once process ``pid`` exits;
    never if the block ends first or ``timeout`` passes. How a blocking read with no
    timeout of its own (a Docker event stream) is cut short when its process dies."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:  # already gone and reaped
        action()
        yield
        return
    block_done, block_ending = os.pipe()

    def watch() -> None:
        ready, _, _ = select.select([pidfd, block_done], [], [], timeout)
        if pidfd in ready and block_done not in ready:
            action()

    watcher = threading.Thread(target=watch, name=f"on-exit-{pid}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        os.close(block_ending)  # EOF on block_done: the watcher returns
        watcher.join()
        os.close(block_done)
        os.close(pidfd)


# <sys/inotify.h>: the standard library has no binding
_IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x8, 0x80, 0x100
#: an entry created, written and closed, or moved in (every write() would wake us too often)
_IN_CHANGES = _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE


class _Inotify:
    """An inotify instance whose watched directories can grow; readable when an entry
    of one of them is created, written and closed, or moved in."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def watch(self, directory: Path) -> None:
        """Watch ``directory`` too (again is a no-op); one removed meanwhile is skipped."""
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory), _IN_CHANGES)
        if wd < 0 and (err := ctypes.get_errno()) not in (errno.ENOENT, errno.ENOTDIR):
            raise OSError(err, f"inotify_add_watch {directory}")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 65536):
                pass

    def __enter__(self) -> _Inotify:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self.fd)


def wait_for(
    condition: Callable[[], bool],
    watched: Callable[[], Collection[Path]],
    timeout: float,
    pid: int | None = None,
) -> bool:
    """Wait until ``condition()`` holds, looking again whenever an entry of one of the
    ``watched()`` directories changes (the list is taken again each time, so directories
    created meanwhile join it) or process ``pid`` exits. Returns its last value."""
    deadline = time.monotonic() + timeout
    with _Inotify() as inotify, contextlib.ExitStack() as closing:
        waiting = [inotify.fd]
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):  # gone: the condition sees it
                waiting.append(pidfd := os.pidfd_open(pid))
                closing.callback(os.close, pidfd)
        while True:
            for directory in watched():
                inotify.watch(directory)  # before looking: a change after the look wakes us
            if condition():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select(waiting, [], [], left)
            inotify.drain()
            # a pidfd stays readable once its process exited: it wakes us once
            waiting = [fd for fd in waiting if fd == inotify.fd or fd not in ready]
