"""``threading`` under the scheduler: locks, conditions and thread-locals that know
which process holds or reads them.

All processes run on one OS thread, each in its own greenlet. A greenlet that
blocks on a real ``threading.Lock`` held by a parked greenlet would hang that one
thread, and a ``threading.local`` would be shared by every process. So, once
installed:

- ``threading.Lock()`` and ``threading.RLock()`` build cooperative locks. Outside
  scheduled processes they behave exactly as the real ones (they wrap one). In a
  scheduled process, acquiring a lock another process holds makes the process
  *wait* (the scheduler runs others until the lock is free, and a timeout counts
  in virtual time); a lock its own process holds again is a self-deadlock, which
  the scheduler reports as one.
- ``Condition.wait`` (and so ``Event.wait``) in a scheduled process waits the same
  way for its ``notify``.
- ``threading.get_ident()`` gives each process an identifier of its own, the same
  in every run.
- ``threading.local()`` keeps one namespace per process (a new one after the
  process crashed and restarted, or its strategy object was rebuilt), and per real
  thread outside processes. Building a process's strategy object counts as that
  process (as :mod:`ownership` counts it), so a library that opens a connection
  in its constructor keeps it in that process's namespace. A subclass's
  ``__init__`` runs again for each new namespace, as with the real
  ``threading.local`` (cacheops' transaction state relies on that).

Only objects built after installation are cooperative: a library that made its
lock at import time keeps a real one (dogpile.cache and redis-py make theirs when
a region or lock is created).
"""

from __future__ import annotations

import _thread
import contextlib
import threading
import zlib
from typing import Any

from greenlet import getcurrent

from cacherace.engine.drivers import ownership
from cacherace.engine.runtime import IN_STEP

_real_allocate = _thread.allocate_lock
_real_get_ident = _thread.get_ident
_real_local = threading.local
real_condition_wait = threading.Condition.wait
_installed = False


def _process() -> Any:
    """The scheduled process running this code, inside a driver call or not."""
    return getattr(getcurrent(), "process", None)


def _waitable(p: Any) -> bool:
    # Inside a driver call (a pool's lock) nothing may park: those locks are never
    # held across a park, so they are free whenever asked for.
    return p is not None and p.state not in IN_STEP


class CooperativeLock:
    """``threading.Lock`` that makes a scheduled process wait instead of blocking."""

    __slots__ = ("__weakref__", "_lock", "_owner")

    def __init__(self) -> None:
        self._lock = _real_allocate()
        self._owner: Any = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        p = _process()
        if not _waitable(p):
            got = self._lock.acquire(blocking, timeout)
            if got:
                self._owner = p
            return got
        while not self._lock.acquire(False):
            holder = self._owner
            if not blocking:
                return False
            if holder is None:  # a real thread holds it: block as a thread would
                return bool(self._lock.acquire(True, timeout))
            what = f"a threading lock {holder.name} holds"
            limit = None if timeout is None or timeout < 0 else float(timeout)
            if not p.engine.waiting.wait_until(p, self._free, what, (holder.name,), limit):
                return False
        self._owner = p
        return True

    def _free(self) -> bool:
        return not self._lock.locked()

    def release(self) -> None:
        self._owner = None
        self._lock.release()

    def locked(self) -> bool:
        return bool(self._lock.locked())

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._lock = _real_allocate()
        self._owner = None

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<cacherace cooperative lock, {state}>"


class CooperativeRLock:
    """``threading.RLock`` on a :class:`CooperativeLock`: re-entrant per process
    (per real thread outside processes)."""

    __slots__ = ("__weakref__", "_count", "_lock", "_who")

    def __init__(self) -> None:
        self._lock = CooperativeLock()
        self._who: Any = None
        self._count = 0

    @staticmethod
    def _me() -> Any:
        p = _process()
        return p if p is not None else _real_get_ident()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = self._me()
        if self._count and self._who == me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._who, self._count = me, 1
        return True

    def release(self) -> None:
        if not self._count or self._who != self._me():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._who = None
            self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def locked(self) -> bool:
        return self._lock.locked()

    # The interface threading.Condition uses to wait on an RLock.
    def _is_owned(self) -> bool:
        return bool(self._count) and self._who == self._me()

    def _recursion_count(self) -> int:
        return self._count if self._who == self._me() else 0

    def _release_save(self) -> tuple[int, Any]:
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._who)
        self._who, self._count = None, 0
        self._lock.release()
        return state

    def _acquire_restore(self, state: tuple[int, Any]) -> None:
        self._lock.acquire()
        self._count, self._who = state

    def _at_fork_reinit(self) -> None:
        self._lock = CooperativeLock()
        self._who, self._count = None, 0


def _condition_wait(self: threading.Condition, timeout: float | None = None) -> bool:
    """``Condition.wait``: in a scheduled process, wait for ``notify`` cooperatively."""
    p = _process()
    if not _waitable(p):
        return real_condition_wait(self, timeout)
    if not self._is_owned():  # type: ignore[attr-defined]
        raise RuntimeError("cannot wait on un-acquired lock")
    # The stock notify() releases a waiter lock it pops from _waiters: wait until
    # this one is released, without blocking the thread on it.
    waiter = _real_allocate()
    waiter.acquire()
    self._waiters.append(waiter)  # type: ignore[attr-defined]
    saved = self._release_save()  # type: ignore[attr-defined]
    got = False
    try:
        limit = None if timeout is None else max(0.0, float(timeout))
        got = p.engine.waiting.wait_until(p, lambda: not waiter.locked(), "a notify", (), limit)
        return got
    finally:
        self._acquire_restore(saved)  # type: ignore[attr-defined]
        if not got:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)  # type: ignore[attr-defined]


def _local_owner() -> Any:
    """Whose thread-locals this code sees: the running process, else the process
    whose strategy object is being built, else None (a real thread's)."""
    p = _process()
    if p is None and ownership.building:
        p = ownership.building[-1]
    return p


class ProcessLocal:
    """``threading.local``: one namespace per scheduled process incarnation, and per
    real thread for everything else."""

    __slots__ = ("__weakref__", "_cr_init", "_cr_spaces", "_cr_thread")

    # Set up in __new__, as the real one is: a subclass's __init__ need not call ours.
    def __new__(cls, *args: Any, **kwargs: Any) -> ProcessLocal:
        if (args or kwargs) and cls.__init__ is ProcessLocal.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        object.__setattr__(self, "_cr_spaces", {})
        object.__setattr__(self, "_cr_thread", _real_local())
        object.__setattr__(self, "_cr_init", (args, kwargs))
        ProcessLocal._cr_space(self, fresh=False)  # the constructor's __init__ fills it
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def _cr_space(self, fresh: bool = True) -> Any:
        p = _local_owner()
        if p is None:
            here = object.__getattribute__(self, "_cr_thread")
            space = getattr(here, "space", None)
            if space is not None:
                return space
            space = here.space = {}
        else:
            spaces: dict[tuple[int, str], tuple[Any, dict[str, Any]]] = object.__getattribute__(
                self, "_cr_spaces"
            )
            # One context per incarnation (a fresh one each time the process's strategy
            # is built): another engine's process of the same name never shares it.
            held = spaces.get((id(p.engine), p.name))
            if held is not None and held[0] is p.context:
                return held[1]
            space = {}  # that incarnation died: its locals died with it
            spaces[(id(p.engine), p.name)] = (p.context, space)
        init = type(self).__init__
        if fresh and init is not ProcessLocal.__init__:  # as threading.local does per thread
            args, kwargs = object.__getattribute__(self, "_cr_init")
            init(self, *args, **kwargs)
        return space

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_cr_") or name in ("__class__", "__dict__"):
            if name == "__dict__":
                return ProcessLocal._cr_space(self)
            return object.__getattribute__(self, name)
        space = ProcessLocal._cr_space(self)
        if name in space:
            return space[name]
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        ProcessLocal._cr_space(self)[name] = value

    def __delattr__(self, name: str) -> None:
        space = ProcessLocal._cr_space(self)
        try:
            del space[name]
        except KeyError:
            raise AttributeError(name) from None


def _get_ident() -> int:
    """``threading.get_ident()``: each process is a thread of its own, with an
    identifier that is the same in every run (Django names its savepoints by it, and
    checks a connection is used by the thread, here the process, that opened it)."""
    p = _local_owner()
    if p is None:
        return _real_get_ident()
    return 0x7C000000 + zlib.crc32(p.name.encode())


def installed() -> bool:
    return _installed


def install() -> None:
    """Make new locks, conditions and thread-locals cooperative (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    threading.Lock = CooperativeLock  # type: ignore[misc, assignment]
    threading.RLock = CooperativeRLock  # type: ignore[misc, assignment]
    threading.Condition.wait = _condition_wait  # type: ignore[method-assign]
    threading.local = ProcessLocal  # type: ignore[misc, assignment]
    _thread.get_ident = threading.get_ident = _get_ident
