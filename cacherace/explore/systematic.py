"""The systematic explorer: every schedule of a scope, for one tier.

Workloads are taken smallest first (:mod:`cacherace.explore.scope`); for each, a
stateless depth-first search runs every interleaving of its operations with the
tier's nemesis choices, re-running each schedule from a reset on the real servers
(the engine is deterministic, so a prefix replays to the same state). Every
complete run is settled and every claim still standing is checked on its history;
a broken claim keeps its shortest failing run, in driver calls, teardown included.

Reduction: sleep sets (Godefroid 1996), on footprints observed in the runs
(:mod:`cacherace.explore.footprint`). After a choice ``u`` at a point N has been
explored, a later sibling ``t`` that commutes with ``u`` does not explore ``u``
again until something dependent on ``u`` ran: every run that would is equivalent
(same history up to the order of commuting events, so the same verdicts) to one
already run from N through ``u``.

Why it stays sound under the preemption bound: plain sleep sets are not, because
the equivalent run explored through ``u`` may need more preemptions than the one
pruned, and be cut by the bound (Coons, Musuvathi, McKinley, OOPSLA 2013). So
under a bound ``u`` is put to sleep for ``t`` only when ``u`` continues the
process that ran last (no preemption) and ``t`` preempts it. Then the pruned run
``t w1 u w2`` (``w1`` has no step of ``u``'s process ``p``: ``u`` was ``p``'s
next) and the explored ``u t w1 w2`` differ as follows: the explored one pays at
most 1 for switching from ``p`` to ``t``, where the pruned one paid exactly 1 at
N; and taking ``u`` out of the middle removes the switches into and out of ``p``
there, adding at most the one switch from ``w1``'s end to ``w2``'s start, which
costs what the switch into ``p`` cost (the same process, equally far along). So
the explored run never needs more preemptions; by induction over the search the
same holds for sleep sets inherited down the tree. Nemesis choices are dependent
with everything and so are never pruned. ``reduce=False`` turns the reduction
off; a test checks both find the same broken claims at the same lengths.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cacherace.engine.engine import Scheduler
from cacherace.explore import hygiene
from cacherace.explore.apply import apply
from cacherace.explore.choices import Choice, Choices, RunState
from cacherace.explore.footprint import Footprint, independent, of_events
from cacherace.explore.machine import ClaimBroken, broken_type
from cacherace.explore.scope import Scope, Workload, workloads
from cacherace.explore.tiers import significant_durations
from cacherace.model.actions import Action
from cacherace.model.history import Step
from cacherace.model.verdict import Status
from cacherace.properties import Claim


@dataclass
class Node:
    """One point of the current run: what was taken, what is left, what sleeps."""

    taken: Choice
    todo: list[Choice]
    sleep: dict[Choice, Footprint]
    cost_free: set[Choice]  # choices that preempt nobody here
    footprint: Footprint | None = None
    done: list[tuple[Choice, Footprint]] = field(default_factory=list)


@dataclass
class Found:
    """What one tier's systematic search found."""

    schedules: int = 0
    complete: bool = True
    seconds: float = 0.0
    broken: dict[str, ClaimBroken] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    #: claim -> (schedules run, seconds) until its first failing schedule
    first_failure: dict[str, tuple[int, float]] = field(default_factory=dict)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    reached_driver: bool = False
    error: str | None = None
    #: claim -> operations in the workload of its shortest failing run
    sizes: dict[str, int] = field(default_factory=dict)


class Search:
    """A systematic search of one tier for ``claims`` on ``scheduler``."""

    def __init__(self, scheduler: Scheduler, claims: Sequence[Claim], tier: str,
                 scope: Scope, *, reduce: bool = True, deadline: float | None = None,
                 select: Callable[[int], bool] | None = None) -> None:  # fmt: skip
        self.s = scheduler
        self.claims = list(claims)
        self.scope = scope
        self.reduce = reduce
        self.deadline = deadline
        self.select = select  # which workloads (by number) this worker runs
        durations = significant_durations(scheduler.strategy_cls, scheduler.settings)
        self.choices = Choices(scheduler, scope, tier, durations)
        self.tier_level = self.choices.level
        self.found = Found()
        self._started = 0.0

    def run(self) -> Found:
        self._started = time.perf_counter()
        names = (*self.s.clients[: self.scope.clients], *self.s.actors)
        try:
            for number, w in enumerate(workloads(self.scope, self.s.keys, len(self.s.actors))):
                if self.select is not None and not self.select(number):
                    continue
                if self._all_broken_below(w.size):
                    break  # breadth-first: every claim broke with fewer operations
                if not self._workload(w, names):
                    self.found.complete = False
                    break
        finally:
            self.found.seconds = time.perf_counter() - self._started
        return self.found

    def _all_broken_below(self, size: int) -> bool:
        """Every claim broke in a workload smaller than ``size``: larger workloads
        (more operations) are not searched, and each minimum stands for the
        workloads of at most that many operations."""
        f = self.found
        return bool(self.claims) and all(
            c.name in f.broken and f.sizes[c.name] < size for c in self.claims
        )

    # -- one workload ---------------------------------------------------------------
    def _workload(self, w: Workload, names: tuple[str, ...]) -> bool:
        """Every schedule of ``w``; False when stopped (deadline or harness error)."""
        path: list[Node] = []
        values = self.choices.values(w)
        while True:
            if self.deadline is not None and time.perf_counter() > self.deadline:
                return False
            schedule: list[Action] = []
            try:
                self._one_run(w, names, path, values, schedule)
            except Exception as exc:  # a harness failure, never a verdict
                tail = "".join(traceback.format_exception(exc)[-3:]).strip()
                shown = ", ".join(a.do + (f" {a.process}" if getattr(a, "process", None)
                                          else "") for a in schedule)  # fmt: skip
                self.found.error = f"{type(exc).__name__}: {exc} (schedule: {shown})\n{tail}"
                return False
            while path and not path[-1].todo:
                path.pop()
            if not path:
                return True
            node = path[-1]
            assert node.footprint is not None
            node.done.append((node.taken, node.footprint))
            node.taken, node.footprint = node.todo.pop(0), None

    def _one_run(self, w: Workload, names: tuple[str, ...], path: list[Node],
                 values: dict[tuple[str, int], str], schedule: list[Action]) -> None:  # fmt: skip
        history = hygiene.reset(self.s)
        run = RunState(w, names)
        depth = 0
        while True:
            if depth < len(path):
                node = path[depth]
            else:
                node_or_none = self._new_node(run, path)
                if node_or_none is None:
                    break
                node = node_or_none
                path.append(node)
            before = len(history.events)
            for action in self.choices.actions(run, node.taken, values):
                if apply(self.s, action):
                    schedule.append(action)
            self.choices.took(run, node.taken)
            fp = of_events(node.taken.process, history.events[before:], self.s.keys)
            if node.footprint is None:
                node.footprint = fp
            depth += 1
        self.s.settle()
        self.found.schedules += 1
        if self.tier_level > 0 and not run.used_tier_feature:
            return  # a schedule of a weaker tier, searched there
        self._check(schedule, w.size)

    def _new_node(self, run: RunState, path: list[Node]) -> Node | None:
        """The next point of the run, or None at its end."""
        sleep: dict[Choice, Footprint] = {}
        if path and self.reduce:
            parent = path[-1]
            assert parent.footprint is not None
            t = parent.taken
            candidates = dict(parent.sleep)
            bounded = self.scope.preemptions is not None
            for u, fp in parent.done:
                # Under a bound, only a non-preemptive u sleeps for a preempting t.
                if not bounded or (u in parent.cost_free and t not in parent.cost_free):
                    candidates[u] = fp
            sleep = {u: fp for u, fp in candidates.items() if independent(fp, parent.footprint)}
        options = []
        free: set[Choice] = set()
        for c in self.choices.enabled(run):
            cost = self.choices.cost(run, c)
            if cost == 0:
                free.add(c)
            if c in sleep:
                continue
            bound = self.scope.preemptions
            if bound is not None and run.preemptions + cost > bound:
                continue
            options.append(c)
        if not options:
            return None
        return Node(options[0], options[1:], sleep, free)

    # -- verdicts -------------------------------------------------------------------
    def _check(self, schedule: list[Action], size: int) -> None:
        history = self.s.history
        steps = sum(1 for e in history.events if isinstance(e, Step))
        if steps:
            self.found.reached_driver = True
        f = self.found
        for claim in self.claims:
            verdict = claim.check(history)
            counts = f.statuses.setdefault(claim.name, {})
            counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
            if verdict.status is Status.UNKNOWN:
                reasons = f.unknown_reasons.setdefault(claim.name, {})
                reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
            if not verdict.broken:
                continue
            f.first_failure.setdefault(
                claim.name, (f.schedules, time.perf_counter() - self._started)
            )
            if claim.name not in f.steps or steps < f.steps[claim.name]:
                f.steps[claim.name] = steps
                f.sizes[claim.name] = size
                f.broken[claim.name] = broken_type(claim.name)(verdict, schedule, history)
