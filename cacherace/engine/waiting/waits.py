"""The engine's collaborator for waiting processes (see :mod:`cacherace.engine.waiting`):
sleeps and waits inside a worker, the hub's questions (who can go on, when time
should jump, who is stuck)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cacherace.engine.drivers.calls import Call
from cacherace.engine.runtime import State, park
from cacherace.engine.waiting import spin
from cacherace.engine.waiting.state import MAX_SPINS_ALONE, WaitState
from cacherace.errors import ClientCrashed
from cacherace.model.history import Wait


def _first_timeout(processes: Any) -> float:
    """The earliest timed wait's timeout. Discrete-event order: a sleeper that wakes
    later does not go first (its step would jump time past that timeout)."""
    ends = [q.pace.wait.deadline for q in processes if q.worker is not None
            and q.pace.wait is not None and q.pace.wait.deadline is not None]  # fmt: skip
    return min(ends, default=float("inf"))


class Waiting:
    """The engine's collaborator for waiting processes; see the package docstring."""

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
            spin.spinning(self, p, ("time", f"sleep {seconds:g}", (), ""), now)  # sleeps, no calls
        elif pace.spin is not None:
            pace.spin.seen, pace.spin.at = self.changes, now
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
                    self.record(p, w, ended=True)
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

    # -- after each step (an observer: :mod:`.spin`) ------------------------------------
    after_step = spin.after_step

    def ended(self, p: Any) -> None:
        """``p``'s operation ended (or it crashed): a spin it was in is over."""
        pace = p.pace
        if pace.spin is not None and p.state is not State.CRASHED:
            self.record(p, spin.over(pace.spin, self.engine.clock.now), ended=True)
        pace.reset()

    def record(self, p: Any, w: WaitState, *, ended: bool) -> None:
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
        s = pace.spin
        return s is None or s.seen != self.changes or s.at != self.engine.clock.now

    def can_step(self, p: Any) -> bool:
        """Whether a ``step`` action does anything: a wait's or a spinner's step does
        not until it can go on (a spinner's next call would repeat one whose answer
        nothing has changed since: the same step again, and a search that offered it
        would never end)."""
        return self.can_go(p)

    def others(self, p: Any) -> Any:
        """The next busy process other than ``p`` that can go on (round robin)."""
        procs = [q for q in self.engine.processes.values() if q is not p]
        due = _first_timeout(self.engine.processes.values())
        for i in range(len(procs)):
            q = procs[(self.turn + i) % len(procs)]
            if q.worker is not None and self.can_go(q) and (q.pace.sleep_until or 0) <= due:
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
            self.record(q, w, ended=False)
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
