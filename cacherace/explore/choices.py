"""The choices of the systematic explorer at one point of a run, and their costs.

A choice is one transition (see :mod:`cacherace.explore.footprint`): a process
starting its next operation or taking one driver call (optionally with a client
fault attached, or crashing instead), or the nemesis acting. :class:`RunState`
follows one run: which operation each process is at, the process that ran last
(for preemptions), and the advance and fault budgets used.

A delivery (the invalidations Redis pushed to a client-side cache arriving) is
offered whenever one would remove a cached entry, in every tier: when a push
arrives is a race of concurrency, not a fault.

A *preemption* (CHESS) is a switch away from a process that could have gone on:
its operation is in flight and it is not waiting. Switching at an operation
boundary (the last process finished its operation), away from a waiting process,
or to the nemesis is free: the nemesis does not take the processor from anyone,
and after it the process that ran last is still the one that ran last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cacherace.engine.engine import Scheduler
from cacherace.explore.scope import Scope, Workload
from cacherace.explore.tiers import TIERS, faults_up_to
from cacherace.model.actions import (
    CACHE_CRASH,
    CACHE_PAUSE,
    CACHE_RESTART,
    CACHE_RESUME,
    CLIENT_CRASH,
    CLIENT_TIMEOUT,
    DB_CRASH,
    DB_PAUSE,
    DB_RESTART,
    DB_RESUME,
    EVICT,
    FAIL_AFTER,
    FAIL_BEFORE,
    Action,
    Advance,
    ClientFault,
    Deliver,
    Evict,
    ServerFault,
    Start,
    StepAction,
)

#: Each server fault and what heals it (a crash's restart, a pause's resume).
_RESTART = {CACHE_CRASH: CACHE_RESTART, DB_CRASH: DB_RESTART,
            CACHE_PAUSE: CACHE_RESUME, DB_PAUSE: DB_RESUME}  # fmt: skip
_TWIN = {CACHE_CRASH: CACHE_PAUSE, CACHE_PAUSE: CACHE_CRASH, DB_CRASH: DB_PAUSE, DB_PAUSE: DB_CRASH}


@dataclass(frozen=True, slots=True)
class Choice:
    """One transition: ``kind`` is start, step, a client fault (on ``process``),
    advance (``arg`` seconds), evict (``arg`` key), deliver (``arg`` process), or a
    server crash/restart."""

    kind: str
    process: str | None = None
    arg: Any = None


@dataclass
class RunState:
    """What the explorer tracks of one run besides the engine's own state."""

    workload: Workload
    names: tuple[str, ...]  # clients, then actors: the workload's order
    next_op: dict[str, int] = field(default_factory=dict)
    current: str | None = None
    preemptions: int = 0
    advances: int = 0
    faults: int = 0
    down: set[str] = field(default_factory=set)  # crashed servers not restarted
    used_tier_feature: bool = False

    def ops_of(self, name: str) -> int:
        i = self.names.index(name)
        n = len(self.workload.ops)
        return len(self.workload.ops[i]) if i < n else self.workload.actor_runs[i - n]


class Choices:
    """The choices a run offers, for one strategy, scope and tier."""

    def __init__(self, s: Scheduler, scope: Scope, tier: str, durations: list[float]) -> None:
        self.s = s
        self.scope = scope
        self.level = TIERS.index(tier)
        allowed = set(faults_up_to(tier))
        if not (s.redis_server.can_crash and s.pg_server.can_crash):
            allowed -= {CACHE_CRASH, DB_CRASH, CACHE_PAUSE, DB_PAUSE}
        self.client_faults = [f for f in (FAIL_BEFORE, FAIL_AFTER, CLIENT_CRASH) if f in allowed]
        self.server_crashes = [f for f in (CACHE_CRASH, DB_CRASH, CACHE_PAUSE, DB_PAUSE)
                               if f in allowed]  # fmt: skip
        self.timeouts = CLIENT_TIMEOUT in allowed
        self.evict = EVICT in allowed
        self.durations = durations if self.level >= 1 else []
        self.keys = list(s.keys[: scope.keys])

    def values(self, w: Workload) -> dict[tuple[str, int], str]:
        """Each write's value, fixed by its place in the workload (not by the order
        writes start in), so a choice means the same in every run."""
        out: dict[tuple[str, int], str] = {}
        n = 0
        for name, ops in zip(self.s.clients, w.ops, strict=False):
            for i, (f, key) in enumerate(ops):
                if f == "write":
                    n += 1
                    out[(name, i)] = f"{key}.{n}"
        return out

    def enabled(self, run: RunState) -> list[Choice]:
        """Every choice at this point: time advances, processes in order, the other
        nemesis choices."""
        out: list[Choice] = []
        faults_left = run.faults < self.scope.faults
        if run.advances < self.scope.advances:
            # First: an advance explored before its siblings sleeps in their
            # subtrees wherever it commutes (see systematic), the others cannot.
            out += [Choice("advance", None, d) for d in self.durations]
        for name in run.names:
            p = self.s.processes[name]
            if p.worker is not None:
                if self.timeouts and faults_left and self.s.nemesis.hangs.can_time_out(name):
                    out.append(Choice(CLIENT_TIMEOUT, None, name))  # moves time: the nemesis's
                if p.waiting or not self.s.waiting.can_step(p):
                    continue  # not enabled until its wait can end
                out.append(Choice("step", name))
                if faults_left:
                    out += [Choice(f, name) for f in self.client_faults]
            elif run.next_op.get(name, 0) < run.ops_of(name):
                out.append(Choice("start", name))
            if self.s.invalidations.tracked and self.s.invalidations.deliverable(name):
                out.append(Choice("deliver", None, name))  # the network's: free
        if faults_left:
            if self.evict and self.s.cache_up:
                out += [Choice(EVICT, None, k) for k in self.keys]
            for crash in self.server_crashes:
                server_up = self.s.cache_up if crash in (CACHE_CRASH, CACHE_PAUSE) else self.s.db_up
                if server_up and not run.down & {crash, _TWIN[crash]}:  # not down nor paused
                    out.append(Choice(crash))
        out += [Choice(_RESTART[c]) for c in sorted(run.down)]
        return out

    def cost(self, run: RunState, c: Choice) -> int:
        """1 when taking ``c`` is a preemption, else 0."""
        if c.process is None or run.current in (None, c.process):
            return 0
        p = self.s.processes[run.current]
        return 1 if p.worker is not None and not p.waiting else 0

    def actions(self, run: RunState, c: Choice, values: dict[tuple[str, int], str]) -> list[Action]:
        """The schedule actions ``c`` is made of (a client fault and the step it hits)."""
        if c.kind == "start":
            assert c.process is not None
            i = run.next_op.get(c.process, 0)
            if c.process in self.s.actors:
                return [Start(c.process, c.process)]
            f, key = run.workload.ops[self.s.clients.index(c.process)][i]
            return [Start(c.process, f, key, values.get((c.process, i)))]
        if c.kind == "step":
            return [StepAction(c.process)]  # type: ignore[arg-type]
        if c.kind in (FAIL_BEFORE, FAIL_AFTER):
            return [ClientFault(c.kind, c.process), StepAction(c.process)]  # type: ignore[arg-type]
        if c.kind == CLIENT_CRASH:
            return [ClientFault(CLIENT_CRASH, c.process)]  # type: ignore[arg-type]
        if c.kind == CLIENT_TIMEOUT:
            return [ClientFault(CLIENT_TIMEOUT, str(c.arg))]
        if c.kind == "advance":
            return [Advance(float(c.arg))]
        if c.kind == EVICT:
            return [Evict(str(c.arg))]
        if c.kind == "deliver":
            return [Deliver(str(c.arg))]
        return [ServerFault(c.kind)]

    def took(self, run: RunState, c: Choice) -> None:
        """Account for ``c`` having been taken."""
        run.preemptions += self.cost(run, c)
        if c.process is not None:
            run.current = c.process
        if c.kind == "start":
            assert c.process is not None
            run.next_op[c.process] = run.next_op.get(c.process, 0) + 1
        elif c.kind == "advance":
            run.advances += 1
            run.used_tier_feature |= self.level == 1
        elif c.kind in _RESTART:
            run.faults += 1
            run.down.add(c.kind)
            run.used_tier_feature |= self.level == 3
        elif c.kind in _RESTART.values():
            run.down -= {k for k, v in _RESTART.items() if v == c.kind}
        elif c.kind not in ("step", "deliver"):
            run.faults += 1
            run.used_tier_feature |= self.level == 2
