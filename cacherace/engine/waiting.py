"""Waiting processes: sleeps, spins and waits for what another process holds.

Real caching code waits: redis-py's lock retries ``SET NX`` after ``time.sleep``,
dogpile.cache blocks on a ``threading.Lock``, a loop polls a key. Run as-is, a
waiter that the scheduler keeps stepping while the holder is parked spins
forever. So a process can be in one of these states, besides ready:

- **sleeping** (``time.sleep(s)``, see :mod:`.drivers.clock`): parked until the
  schedule steps it; virtual time then jumps to its wake-up, as in a
  discrete-event simulation (FoundationDB's simulator, Tokio's paused clock).
  The jump is the code's own doing, so it happens in every tier.
- **spinning**: it repeats a driver call that found nothing changed (the same
  command with the same answer, and no step, fault or expiry since), after a
  sleep or twice in a row. A step of a spinner still runs when the schedule asks
  for it; but ``finish`` and settle run the others first, until something changed.
- **waiting** (:meth:`Waiting.wait_until`): a ``threading`` lock or condition
  another process holds (:mod:`.drivers.threads`), or a blocking pop (BLPOP,
  BRPOP, BZPOPMIN/MAX, BRPOPLPUSH, BLMOVE) on empty keys. Stepping it does
  nothing until what it waits for is there, or its timeout has passed in virtual
  time (a pop that timed out is answered nil without being sent). Streams'
  ``XREAD BLOCK`` is not handled yet.

When no process can go on, time jumps to the next thing that would let one (a
lock key's TTL running out, a wait's timeout); when nothing would, the run is
stuck: every waiter is recorded as a ``Wait`` event that did not end, naming who
it waits for, which ``bounded-wait`` reports as a deadlock (or a lock nobody can
release), and settle ends unsettled with that reason. Each wait that ends is
recorded as a ``Wait`` event too, with its bound: the TTL its lock key had left
when the wait began, plus one polling interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cacherace.engine.drivers.calls import REDIS, Call
from cacherace.engine.runtime import State, park
from cacherace.errors import ClientCrashed, HarnessError
from cacherace.model.history import Step, Wait

#: How many times a spinner may go on alone when nobody else can and no time jump
#: would help (its loop may end on its own clock, as redis-py's blocking timeout).
MAX_SPINS_ALONE = 20
#: Polling interval assumed for a spinner that never slept.
MIN_INTERVAL = 0.001

# Commands that never change what a repeated call would answer.
_READS = frozenset({"GET", "MGET", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN", "HGET",
                    "HGETALL", "HMGET", "HEXISTS", "LRANGE", "LLEN", "LINDEX", "SMEMBERS",
                    "SISMEMBER", "SCARD", "ZRANGE", "ZSCORE", "ZCARD", "XRANGE", "XLEN",
                    "PING", "ECHO", "TIME", "DBSIZE", "KEYS", "SCAN"})  # fmt: skip


class Stuck(HarnessError):
    """No process can go on (a deadlock, a lock nobody can release): a finding of
    the code under test, recorded as ``Wait`` events that did not end. Settle ends
    unsettled with it as the reason; ``bounded-wait`` reports it as broken."""


@dataclass(slots=True)
class WaitState:
    """What one process waits for, since when (virtual time), on whom."""

    what: str
    on: tuple[str, ...]
    since: float
    #: None for a spin: ready once anything changed since ``seen``
    ready: Callable[[], bool] | None = None
    deadline: float | None = None  # virtual time a timed wait gives up
    bound: float | None = None
    seen: int = 0
    keys: tuple[str, ...] = ()
    interval: float = 0.0


class Pace:
    """A process's waiting bookkeeping (one per process, reset per operation)."""

    __slots__ = ("alone", "last", "repeats", "since", "sleep_len", "sleep_seen",
                 "sleep_until", "slept", "spin", "wait")  # fmt: skip

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sleep_until: float | None = None  # parked in time.sleep until then
        self.sleep_len = 0.0
        self.slept = False  # slept since its last driver call
        self.sleep_seen = -1  # the change count at its last sleep
        self.last: tuple[Any, ...] = ()  # (target, command, args, result, changes after)
        self.since = 0.0  # virtual time of the first of its repeated calls
        self.repeats = 0
        self.spin: WaitState | None = None
        self.wait: WaitState | None = None
        self.alone = 0


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


class Waiting:
    """The engine's collaborator for waiting processes; see the module docstring."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.changed = 0  # steps and expiries that changed something
        self.writers: dict[str, str] = {}  # Redis key -> process that last changed it
        #: item key -> Redis keys that steps of operations on it changed
        self.written: dict[str, set[str]] = {}
        self.turn = 0

    def begin(self) -> None:
        self.changed = 0
        self.turn = 0
        self.writers.clear()
        self.written.clear()

    @property
    def changes(self) -> int:
        """Steps, expiries and faults so far that changed something."""
        return self.changed + self.engine.recorder.faults

    # -- inside a worker ---------------------------------------------------------------
    def sleep(self, p: Any, seconds: float) -> None:
        """``time.sleep`` in ``p``: park until stepped (the step jumps the clock)."""
        pace = p.pace
        now = self.engine.clock.now
        if pace.slept and pace.sleep_seen == self.changes and pace.spin is None:
            self._spinning(p, ("time", f"sleep {seconds:g}", (), ""), now)  # sleeps, no calls
        elif pace.spin is not None:
            pace.spin.seen = self.changes
        pace.sleep_seen = self.changes
        pace.sleep_until = now + seconds
        pace.sleep_len = seconds
        pace.slept = True
        pending, state = p.pending, p.state
        p.pending, p.state = Call("time", f"sleep {seconds:g}"), State.PARKED
        park(p)
        if p.state is State.CRASHED:
            raise ClientCrashed()
        p.pending, p.state = pending, state

    def wait_until(self, p: Any, ready: Callable[[], bool], what: str, on: tuple[str, ...],
                   timeout: float | None) -> bool:  # fmt: skip
        """In ``p``'s worker: park until ``ready()`` or ``timeout`` virtual seconds
        passed; True when ready. The wait is recorded as a ``Wait`` event."""
        if ready():
            return True
        if timeout is not None and timeout <= 0:
            return False
        now = self.engine.clock.now
        deadline = None if timeout is None else now + timeout
        w = p.pace.wait = WaitState(what, on, now, ready, deadline, timeout)
        pending, state = p.pending, p.state
        p.pending, p.state = Call("wait", f"wait for {what}"), State.PARKED
        try:
            while True:
                park(p)
                if p.state is State.CRASHED:
                    raise ClientCrashed()
                ok = ready()
                if ok or (deadline is not None and self.engine.clock.now >= deadline):
                    self._record(p, w, ended=True)
                    return ok
        finally:
            p.pace.wait = None
            if p.state is not State.CRASHED:
                p.pending, p.state = pending, state

    def until_answerable(self, p: Any, call: Call) -> bool:
        """Before a blocking pop (BLPOP, ...): wait until one of its keys has
        something, or its timeout passed in virtual time (False: the server would
        answer nil; the call is not sent, so no wall time passes)."""
        args = call.commands[0]
        name = str(args[0]).upper()
        keys = [args[1]] if name in ("BRPOPLPUSH", "BLMOVE") else list(args[1:-1])
        size = "ZCARD" if name.startswith("BZ") else "LLEN"
        timeout = float(args[-1])

        def ready() -> bool:
            state, p.state = p.state, State.STEPPING  # the harness's own calls: no steps
            try:
                admin = self.engine.admin_redis
                return any(int(admin.execute_command(size, k) or 0) for k in keys)
            except Exception:  # the call itself will report the server's trouble
                return True
            finally:
                p.state = state

        what = f"`{call.command}` to find something to pop"
        return self.wait_until(p, ready, what, (), None if timeout == 0 else timeout)

    # -- after each step (an observer) --------------------------------------------------
    def after_step(self, p: Any, call: Call, index: int) -> None:
        step = self.engine.history.events[index]
        changed = changes_state(step, call)
        pace = p.pace
        signature = (call.target, call.command, step.args, step.result)
        repeat = pace.last[:4] == signature and pace.last[4] == self.changes and not changed
        if changed:
            self.changed += 1
            if call.target == REDIS:
                for k in call.keys:
                    self.writers[k] = p.name
                if p.key is not None:
                    self.written.setdefault(p.key, set()).update(call.keys)
        if repeat:
            pace.repeats += 1
            if pace.spin is None and (pace.repeats >= 2 or pace.slept):
                self._spinning(p, signature, pace.since, call.keys)
            elif pace.spin is not None:
                pace.spin.seen = self.changes
        else:
            if pace.spin is not None and pace.last[:4] != signature:
                self._record(p, pace.spin, ended=True)  # it went on
                pace.spin = None
            pace.repeats = 0
            pace.since = step.time
        pace.last = (*signature, self.changes)
        pace.slept = False

    def _spinning(self, p: Any, signature: tuple[Any, ...], since: float,
                  keys: tuple[str, ...] = ()) -> None:  # fmt: skip
        on = tuple(dict.fromkeys(self.writers[k] for k in keys
                                 if self.writers.get(k, p.name) != p.name))  # fmt: skip
        deadlines = [d for k in keys if (d := self.engine.deadlines.get(k)) is not None]
        interval = max(p.pace.sleep_len, MIN_INTERVAL)
        bound = max(deadlines) - since + interval if deadlines else None
        shown = signature[1]  # a Redis command line has its arguments; a statement not
        if signature[0] != REDIS and signature[2]:
            shown += f" [{', '.join(signature[2])}]"
        what = f"`{shown}` to answer otherwise than {signature[3]!s}"
        if signature[0] == "time":
            what = "its sleeping loop to find something changed"
        p.pace.spin = WaitState(what, on, since, None, None, bound, self.changes, keys, interval)

    def ended(self, p: Any) -> None:
        """``p``'s operation ended (or it crashed): a spin it was in is over."""
        pace = p.pace
        if pace.spin is not None and p.state is not State.CRASHED:
            self._record(p, pace.spin, ended=True)
        pace.reset()

    def _record(self, p: Any, w: WaitState, *, ended: bool) -> None:
        self.engine.recorder.event(Wait, process=p.name, op=p.op, what=w.what, on=w.on,
                                   since=w.since, bound=w.bound, ended=ended)  # fmt: skip

    def evictable(self, key: str) -> list[str]:
        """What evicting ``key`` removes (see ``observers.probe.cache_keys``)."""
        from cacherace.engine.observers.probe import cache_keys  # probe imports the claims

        return cache_keys(self.engine, key)

    # -- the hub -----------------------------------------------------------------------
    def wake_sleeper(self, p: Any) -> None:
        """Before resuming a sleeper: virtual time jumps to its wake-up."""
        until, p.pace.sleep_until = p.pace.sleep_until, None
        now = self.engine.clock.now
        if until is not None and until > now:
            self.advance(until - now)

    def advance(self, seconds: float) -> None:
        if self.engine.advance(seconds):
            self.changed += 1  # keys expired

    def can_go(self, p: Any) -> bool:
        if p.state is State.WAITING:
            return False  # a row lock: the lock waits resume it once released
        pace = p.pace
        w = pace.wait
        timed_out = w is not None and w.deadline is not None and self.engine.clock.now >= w.deadline
        if w is not None and w.ready is not None and not timed_out and not w.ready():
            return False
        return pace.spin is None or pace.spin.seen != self.changes

    def can_step(self, p: Any) -> bool:
        """Whether a ``step`` action does anything: a spinner's step runs (it is the
        code's own next call), a wait's step does not until it can go on."""
        w = p.pace.wait
        return w is None or self.can_go(p)

    def others(self, p: Any) -> Any:
        """The next busy process other than ``p`` that can go on (round robin)."""
        procs = [q for q in self.engine.processes.values() if q is not p]
        for i in range(len(procs)):
            q = procs[(self.turn + i) % len(procs)]
            if q.worker is not None and self.can_go(q):
                self.turn = (self.turn + i + 1) % len(procs)
                return q
        return None

    def jump(self) -> bool:
        """Nobody can go on: move time to the first moment somebody could (a timed
        wait's timeout, a spun-on key's TTL running out). False: no such moment."""
        now = self.engine.clock.now
        wakes: list[float] = []
        for q in self.engine.processes.values():
            if q.worker is None:
                continue
            w = q.pace.wait
            if w is not None and w.deadline is not None:
                wakes.append(w.deadline)
            s = q.pace.spin
            if s is not None:
                for k in s.keys:
                    d = self.engine.deadlines.get(k)
                    if d is not None:  # expired once time is past it (by one poll)
                        wakes.append(d + s.interval)
        later = [t for t in wakes if t > now]
        if not later:
            return False
        self.advance(min(later) - now)
        return True

    def alone(self, p: Any) -> bool:
        """Let a spinner go on by itself once more (its own clock may end its loop)."""
        pace = p.pace
        if pace.spin is None or pace.alone >= MAX_SPINS_ALONE:
            return False
        pace.alone += 1
        pace.spin.seen = -1
        return True

    def stuck(self) -> str:
        """Record every waiter as a wait that never ends; the reason, in words."""
        parts = []
        for q in self.engine.processes.values():
            if q.worker is None or self.can_go(q):
                continue
            w = q.pace.wait or q.pace.spin or self._row_lock(q)
            if q.pace.spin is not None and q.pace.alone >= MAX_SPINS_ALONE:
                w.what += f" (tried {MAX_SPINS_ALONE} more times alone: nothing changed)"
            self._record(q, w, ended=False)
            whom = f" held by {', '.join(w.on)}" if w.on else ""
            parts.append(f"{q.name} waits for {w.what}{whom}")
        return "no process can go on: " + "; ".join(parts)

    def _row_lock(self, q: Any) -> WaitState:
        pids = {p.db.info.backend_pid: p.name for p in self.engine.processes.values()
                if p.db is not None and not p.db.closed}  # fmt: skip
        on: tuple[str, ...] = ()
        try:
            row = self.engine.admin_db.execute(
                "SELECT pg_blocking_pids(%s)", (q.db.info.backend_pid,)
            ).fetchone()
            on = tuple(pids[b] for b in (row[0] if row else ()) if b in pids)
        except Exception:  # naming the holder is best effort
            on = ()
        return WaitState("a row lock", on, self.engine.clock.now)
