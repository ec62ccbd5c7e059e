"""Controlled time: inside a scheduled process, the clocks read virtual time and
``time.sleep`` parks the process until the schedule wakes it.

Code under test times things with ``time.time()`` (dogpile.cache stamps each value
with it), ``time.monotonic()`` (redis-py's lock measures its blocking timeout with
it), ``time.perf_counter()`` and ``datetime.now()``, and waits with
``time.sleep()`` (redis-py's lock retries after ``sleep`` seconds). Left to the wall
clock, those make a run slow and its outcome depend on timing. So the functions of
the ``time`` module are replaced, once, by ones that ask the current greenlet: a
scheduled process that is not inside a driver call gets virtual time; everybody
else (the harness, the drivers' own socket timeouts, the test's thread) gets the
real clock, at the cost of one attribute lookup. A scheduled process reads the
engine's clock by calling it, which counts the read: the systematic explorer
tells from the count whether a step depended on virtual time.

Virtual ``time.time()`` starts at :data:`EPOCH` rather than 0: libraries treat a
timestamp of 0 as "never" (dogpile's ``createdtime > 0``).

``datetime.datetime.now`` and ``utcnow`` are class methods of a C type and cannot
be replaced in place; the ``datetime`` name in the ``datetime`` module is replaced
by a subclass whose ``now``/``utcnow``/``today`` read the same clock (returning
ordinary ``datetime`` objects), and so is every module-level ``datetime`` name
that a module already imported holds. ``isinstance`` keeps working both ways.

Random identifiers are part of the same story: redis-py's lock token is a
``uuid1()``, Flask-Caching's memoize version a ``uuid4()``, cacheops' ``keep_fresh``
key a ``random.random()``. In a scheduled process all three come from a counter the
engine resets with each run, so a schedule replays the same history, command texts
included. (``random.random`` is the module's function; code that bound it with
``from random import random`` before installation keeps the real one.)

The harness keeps the real functions: :data:`real_time`, :data:`real_monotonic`,
:data:`real_perf_counter`, :data:`real_sleep`.
"""

from __future__ import annotations

import copyreg
import datetime as _dt
import random
import sys
import time
import uuid
from typing import Any, SupportsIndex

from greenlet import getcurrent

from cacherace.engine.runtime import IN_STEP

#: Virtual ``time.time()`` at virtual time 0 (2023-11-14T22:13:20Z): a plausible
#: wall-clock timestamp, the same in every run so traces replay.
EPOCH = 1_700_000_000.0
#: Virtual ``time.monotonic()`` / ``perf_counter()`` at virtual time 0.
MONOTONIC_BASE = 1_000.0

real_time = time.time
real_time_ns = time.time_ns
real_monotonic = time.monotonic
real_monotonic_ns = time.monotonic_ns
real_perf_counter = time.perf_counter
real_perf_counter_ns = time.perf_counter_ns
real_sleep = time.sleep
real_datetime = _dt.datetime
real_uuid1 = uuid.uuid1
real_uuid4 = uuid.uuid4
real_random = random.random

_installed = False


def scheduled() -> Any:
    """The scheduled process running this code outside a driver call, or None."""
    p = getattr(getcurrent(), "process", None)
    if p is None or p.state in IN_STEP:
        return None
    return p


def _virtual_time() -> float:
    p = scheduled()
    return real_time() if p is None else EPOCH + p.engine.clock()


def _virtual_time_ns() -> int:
    p = scheduled()
    return real_time_ns() if p is None else round((EPOCH + p.engine.clock()) * 1e9)


def _virtual_monotonic() -> float:
    p = scheduled()
    return real_monotonic() if p is None else MONOTONIC_BASE + p.engine.clock()


def _virtual_monotonic_ns() -> int:
    p = scheduled()
    if p is None:
        return real_monotonic_ns()
    return round((MONOTONIC_BASE + p.engine.clock()) * 1e9)


def _virtual_perf_counter() -> float:
    p = scheduled()
    return real_perf_counter() if p is None else MONOTONIC_BASE + p.engine.clock()


def _virtual_perf_counter_ns() -> int:
    p = scheduled()
    if p is None:
        return real_perf_counter_ns()
    return round((MONOTONIC_BASE + p.engine.clock()) * 1e9)


def _virtual_sleep(secs: float | SupportsIndex) -> None:  # time.sleep's own signature
    p = scheduled()
    seconds = float(secs)
    if p is None:
        real_sleep(seconds)
        return
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    p.engine.waiting.sleep(p, seconds)


def _next_uuid(p: Any, version: int) -> uuid.UUID:
    engine = p.engine
    engine.uuids += 1
    return uuid.UUID(int=(0xC0DE << 64) | engine.uuids, version=version)


def _virtual_uuid1(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    p = scheduled()
    return real_uuid1(node, clock_seq) if p is None else _next_uuid(p, 1)


def _virtual_uuid4() -> uuid.UUID:
    p = scheduled()
    return real_uuid4() if p is None else _next_uuid(p, 4)


def _virtual_random() -> float:
    p = scheduled()
    if p is None:
        return real_random()
    engine = p.engine
    engine.uuids += 1
    return (engine.uuids * 0.6180339887498949) % 1.0  # golden-ratio steps: spread, in [0, 1)


class _DatetimeMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, real_datetime)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, real_datetime)


class VirtualDatetime(real_datetime, metaclass=_DatetimeMeta):  # type: ignore[misc]
    """``datetime.datetime`` whose ``now``, ``utcnow`` and ``today`` read virtual
    time in a scheduled process. Its results are plain ``datetime`` objects."""

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> Any:
        p = scheduled()
        if p is None:
            return real_datetime.now(tz)
        return real_datetime.fromtimestamp(EPOCH + p.engine.clock(), tz)

    @classmethod
    def utcnow(cls) -> Any:
        p = scheduled()
        if p is None:
            return real_datetime.now(_dt.UTC).replace(tzinfo=None)
        stamp = EPOCH + p.engine.clock()
        return real_datetime.fromtimestamp(stamp, _dt.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls) -> Any:
        return cls.now()


# pickle finds a class by its module and name: with ``datetime.datetime`` replaced,
# a real ``datetime`` would no longer be found (PicklingError: "not the same
# object"), so both pickle as ``datetime.datetime``, which reads back as a real
# one wherever cacherace is not installed and as ours where it is.
VirtualDatetime.__module__ = "datetime"
VirtualDatetime.__name__ = VirtualDatetime.__qualname__ = "datetime"


def _reduce_datetime(d: Any) -> tuple[Any, ...]:
    return (VirtualDatetime, d.__reduce_ex__(2)[1])


def _rebind_datetime() -> None:
    """Point module-level ``datetime`` names that hold the real class at ours (what
    ``from datetime import datetime`` bound before we were installed)."""
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or module is _dt or namespace is globals():
            continue
        for name, value in list(namespace.items()):
            if value is real_datetime:
                namespace[name] = VirtualDatetime


def install() -> None:
    """Replace the clocks and ``time.sleep`` (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    time.time = _virtual_time
    time.time_ns = _virtual_time_ns
    time.monotonic = _virtual_monotonic
    time.monotonic_ns = _virtual_monotonic_ns
    time.perf_counter = _virtual_perf_counter
    time.perf_counter_ns = _virtual_perf_counter_ns
    time.sleep = _virtual_sleep
    uuid.uuid1 = _virtual_uuid1
    uuid.uuid4 = _virtual_uuid4
    random.random = _virtual_random
    _dt.datetime = VirtualDatetime  # type: ignore[misc]
    copyreg.pickle(real_datetime, _reduce_datetime)
    _rebind_datetime()
