"""Spin detection, an observer of every step: a process that repeats a driver call
which found nothing changed is spinning (see :mod:`cacherace.engine.waiting`).

A call is *neutral* when its answer is fixed by its arguments and it changes
nothing: ``PING`` (PONG, or its message) and ``ECHO`` (its argument), answered
without an error. A loop's next move cannot depend on a neutral call's answer, so
dropping such calls from the sequence a loop repeats loses nothing the judgment
"found nothing changed" rests on: cashews' lock loop, ``SET NX`` (nil), ``PING``,
``asyncio.sleep(0)``, ``SET NX`` ..., repeats its ``SET NX`` exactly as redis-py's
``SET NX``, ``time.sleep``, ``SET NX`` does. A neutral call that failed is not
neutral (cashews goes on without the lock when its ``PING`` fails).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cacherace.engine.drivers.calls import REDIS, Call
from cacherace.engine.waiting.state import MIN_INTERVAL, WaitState
from cacherace.model.history import Step

if TYPE_CHECKING:
    from cacherace.engine.waiting.waits import Waiting

# Commands that never change what a repeated call would answer.
_READS = frozenset({"GET", "MGET", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN", "HGET",
                    "HGETALL", "HMGET", "HEXISTS", "LRANGE", "LLEN", "LINDEX", "SMEMBERS",
                    "SISMEMBER", "SCARD", "ZRANGE", "ZSCORE", "ZCARD", "XRANGE", "XLEN",
                    "PING", "ECHO", "TIME", "DBSIZE", "KEYS", "SCAN"})  # fmt: skip
#: Commands whose successful answer is a function of their arguments alone.
_NEUTRAL = frozenset({"PING", "ECHO"})


def changes_state(step: Step, call: Call) -> bool:
    """Could this step have changed what another call answers?"""
    if step.error is not None:
        return True  # effect unknown
    if call.target != REDIS:
        return call.writes
    if call.batch or len(call.commands) != 1:
        return True
    args = call.commands[0]
    name = str(args[0]).upper()
    if name in _READS:
        return False
    upper = {str(a).upper() for a in args[3:]}
    if name == "SET" and upper & {"NX", "XX"} and step.result == "None":
        return False  # a conditional SET that did nothing (a lock someone holds)
    return not (name in ("SETNX", "HSETNX") and step.result in ("0", "False"))


def is_neutral(step: Step, call: Call) -> bool:
    """A call that changes nothing and whose answer says nothing about any state."""
    return (
        call.target == REDIS
        and not call.batch
        and len(call.commands) == 1
        and step.error is None
        and step.injected is None
        and str(call.commands[0][0]).upper() in _NEUTRAL
    )


def after_step(w: Waiting, p: Any, call: Call, index: int) -> None:
    """After each step of ``p``: count what changed, and whether ``p`` now spins."""
    step = w.engine.history.events[index]
    if is_neutral(step, call):
        return  # neither a repetition nor the end of one
    changed = changes_state(step, call)
    pace = p.pace
    signature = (call.target, call.command, step.args, step.result)
    repeat = pace.last[:4] == signature and pace.last[4] == w.changes and not changed
    if changed:
        w.changed += 1
        if call.target == REDIS:
            for k in call.keys:
                w.writers[k] = p.name
            if p.key is not None:
                w.written.setdefault(p.key, set()).update(call.keys)
    if repeat:
        pace.repeats += 1
        if pace.spin is None and (pace.repeats >= 2 or pace.slept):
            spinning(w, p, signature, pace.since, call.keys)
        elif pace.spin is not None:
            s = pace.spin
            s.seen, s.at = w.changes, step.time
            if s.bound is not None and step.time >= s.since + s.bound - s.interval:
                s.overdue = True
    else:
        if pace.spin is not None and pace.last[:4] != signature:
            w.record(p, over(pace.spin, step.time), ended=True)  # it went on
            pace.spin = None
        pace.repeats = 0
        pace.since = step.time
    pace.last = (*signature, w.changes)
    pace.slept = False


def over(s: WaitState, now: float) -> WaitState:
    """A spin that ends at ``now``. One that ended at its first call after the keys
    it spun on expired waited as long as their TTL, plus the time the schedule let
    pass before it was stepped again (a time advance jumps past the expiry in one
    go; a process is not always scheduled at once): that is the schedule's delay,
    not the lock's, so the bound is stretched to it."""
    if s.bound is not None and not s.overdue and now - s.since > s.bound:
        s.bound = now - s.since
    return s


def spinning(w: Waiting, p: Any, signature: tuple[Any, ...], since: float,
             keys: tuple[str, ...] = ()) -> None:  # fmt: skip
    """``p`` spins on ``signature`` (target, command, args, result) since ``since``."""
    on = tuple(dict.fromkeys(w.writers[k] for k in keys
                             if w.writers.get(k, p.name) != p.name))  # fmt: skip
    deadlines = [d for k in keys if (d := w.engine.deadlines.get(k)) is not None]
    interval = max(p.pace.sleep_len, MIN_INTERVAL)
    bound = max(deadlines) - since + interval if deadlines else None
    shown = signature[1]  # a Redis command line has its arguments; a statement not
    if signature[0] != REDIS and signature[2]:
        shown += f" [{', '.join(signature[2])}]"
    what = f"`{shown}` to answer otherwise than {signature[3]!s}"
    if signature[0] == "time":
        what = "its sleeping loop to find something changed"
    p.pace.spin = WaitState(
        what, on, since, None, None, bound, w.changes, keys, interval, w.engine.clock.now
    )
