"""The systematic explorer: every schedule of a scope, for one tier.

Order. Workloads are grouped by size, fewest operations first
(:mod:`cacherace.explore.scope`). Within a size the search runs in rounds of the
preemption bound (iterative context bounding, Musuvathi & Qadeer, PLDI 2007):
round 0 runs the schedules without a preemption, round ``b`` exactly those with
``b``, each starting from the prefix where round ``b - 1`` refused its ``b``-th
preemption (the prefix replays to the same state: the engine is deterministic),
so no schedule runs twice. Each schedule is a stateless depth-first run from a
reset on the real servers, settled, and every claim still standing is checked on
its history; a broken claim keeps its shortest failing run, in driver calls,
teardown included. Once every claim broke, a run is cut as soon as it has taken
as many steps as the longest of their shortest breaks (it cannot end shorter),
and larger workloads are not searched. A minimum is minimal among the schedules
of at most its workload's operations once that size's rounds are all done;
:meth:`Found.minimality` says which holds (a cap can stop the search first).

Reduction: sleep sets (Godefroid 1996), on footprints observed in the runs
(:mod:`cacherace.explore.footprint`). After a choice ``u`` at a point N has been
explored, a later sibling ``t`` that commutes with ``u`` does not explore ``u``
again until something dependent on ``u`` ran: every run that would is equivalent
(same history up to the order of commuting events, so the same verdicts) to one
already run from N through ``u``.

Why it stays sound under the preemption bound: plain sleep sets are not, because
the equivalent run explored through ``u`` may need more preemptions than the one
pruned, and be cut by the bound (Coons, Musuvathi, McKinley, OOPSLA 2013). So
under a bound ``u`` is put to sleep for ``t`` only in three cases:

1. ``u`` continues the process ``p`` that ran last (no preemption) and ``t``
   preempts it. The pruned run ``t w1 u w2`` (``w1`` has no step of ``p``: ``u``
   was ``p``'s next) and the explored ``u t w1 w2`` differ as follows: the
   explored one pays at most 1 for switching from ``p`` to ``t``, where the pruned
   one paid exactly 1 at N; and taking ``u`` out of the middle removes the
   switches into and out of ``p`` there, adding at most the one switch from
   ``w1``'s end to ``w2``'s start, which costs what the switch into ``p`` cost (the
   same process, equally far along). So the explored run never needs more.
2. ``u`` is a time advance. An advance costs nothing and changes neither which
   process ran last nor, commuting (footprint rule 5: nobody waits, sleeps or
   spins), whether any process is in flight or waiting: moving it earlier
   changes no switch's cost.
3. ``t`` is a time advance and ``u`` a step continuing ``p``. The pruned run
   ``adv w1 u w2`` pays exactly 1 for its first switch away from ``p`` (``p`` is in
   flight: ``u`` is its step), as the pruned run of case 1 paid at N; the rest of
   case 1's argument applies unchanged to ``u adv w1 w2``.

By induction over the search the same holds for sleep sets inherited down the
tree, and across rounds: a run pruned in round ``b`` is equivalent to one with at
most ``b`` preemptions below an explored sibling, which round ``b`` or an earlier
one runs (a deferred point restarts with its sleep set and the footprints of the
siblings explored there). Equivalent runs have the same steps, so the same
length: pruning never hides a shorter break. Time advances are explored first at
each point (:mod:`cacherace.explore.choices`) so that case 2 applies: an advance
then sleeps past every transition that does not depend on time, and its
placements are searched once per class of equivalent placements. Other nemesis
choices are dependent with everything and so are never pruned. A run whose every
continuation sleeps or is deferred ends there (its settle's schedule is checked
too, as any real schedule's). ``reduce=False`` turns the reduction off; a test
checks that both find the same broken claims at the same lengths.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from cacherace.engine.engine import Scheduler
from cacherace.errors import BackendError
from cacherace.explore import hygiene
from cacherace.explore.apply import apply
from cacherace.explore.choices import Choice, Choices, RunState
from cacherace.explore.footprint import Footprint, TimeWatch, independent, of_advance, of_events
from cacherace.explore.machine import ClaimBroken, broken_type
from cacherace.explore.scope import Scope, Workload, workloads
from cacherace.explore.tiers import significant_durations
from cacherace.model.actions import Action, process_of
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
class Deferred:
    """Choices a point refused because they would pass this round's preemption
    bound: the next round starts there (``prefix`` leads to ``node``)."""

    prefix: list[Choice]
    node: Node
    choices: list[Choice]


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
    #: claim -> preemptions its shortest failing run used
    preemptions: dict[str, int] = field(default_factory=dict)
    #: the last (operations, preemption bound) round searched to its end
    searched: tuple[int, int | None] | None = None
    #: every schedule of workloads of at most this many operations was searched
    sizes_done: int = 0
    #: runs cut short: they could not end shorter than every claim's shortest break
    pruned: int = 0
    #: runs whose every continuation was asleep or deferred (covered elsewhere)
    blocked: int = 0

    def minimality(self, claim: str) -> str:
        """What ``claim``'s shortest failing schedule is minimal among, in words."""
        size = self.sizes[claim]
        if self.sizes_done >= size or self.complete:
            return f"minimal among the scope's schedules of at most {size} operations"
        where = "before its end"
        if self.searched is not None:
            n, b = self.searched
            where = f"after the round of {n} operations with {b} preemptions"
        return f"shortest found, not proven minimal: the search stopped {where}"


class Search:
    """A systematic search of one tier for ``claims`` on ``scheduler``."""

    def __init__(self, scheduler: Scheduler, claims: Sequence[Claim], tier: str,
                 scope: Scope, *, reduce: bool = True, deadline: float | None = None,
                 max_schedules: int | None = None,
                 select: Callable[[int], bool] | None = None) -> None:  # fmt: skip
        self.s = scheduler
        self.claims = list(claims)
        self.scope = scope
        self.reduce = reduce
        self.deadline = deadline
        self.max_schedules = max_schedules  # a budget that does not depend on the machine
        self.select = select  # which workloads (by number) this worker runs
        durations = significant_durations(scheduler.strategy_cls, scheduler.settings)
        self.choices = Choices(scheduler, scope, tier, durations)
        self.tier_level = self.choices.level
        self.found = Found()
        self.watch = TimeWatch(scheduler, [c.name for c in self.claims])
        self._started = 0.0
        self._bound: int | None = scope.preemptions  # this round's preemption bound
        self._deferred: list[Deferred] = []

    def run(self) -> Found:
        self._started = time.perf_counter()
        names = (*self.s.clients[: self.scope.clients], *self.s.actors)
        numbered = [
            (n, w)
            for n, w in enumerate(workloads(self.scope, self.s.keys, len(self.s.actors)))
            if self.select is None or self.select(n)
        ]
        try:
            for size, group in groupby(numbered, key=lambda nw: nw[1].size):
                if self._all_broken_below(size):
                    break  # breadth-first: every claim broke with fewer operations
                if not self._size(size, [w for _, w in group], names):
                    self.found.complete = False
                    break
                self.found.sizes_done = size
        finally:
            self.found.seconds = time.perf_counter() - self._started
        return self.found

    def _size(self, size: int, group: list[Workload], names: tuple[str, ...]) -> bool:
        """Every schedule of the workloads of ``size`` operations, round by round
        of the preemption bound (0, 1, ... up to the scope's): round ``b`` runs
        exactly the schedules with ``b`` preemptions, each starting where round
        ``b - 1`` refused its ``b``-th preemption. False when stopped."""
        last = self.scope.preemptions
        rounds: list[int | None] = [None] if last is None else list(range(last + 1))
        starts: list[tuple[Workload, Deferred | None]] = [(w, None) for w in group]
        for bound in rounds:
            self._bound = bound
            later: list[tuple[Workload, Deferred | None]] = []
            for w, start in starts:
                self._deferred = []
                if not self._workload(w, names, start):
                    return False
                later += [(w, d) for d in self._deferred]
            self.found.searched = (size, bound)
            if not later:
                break  # nothing refused by this bound: higher bounds add nothing
            starts = later
        return True

    def _all_broken_below(self, size: int) -> bool:
        """Every claim broke in a workload smaller than ``size``: larger workloads
        (more operations) are not searched, and each minimum stands for the
        workloads of at most that many operations."""
        f = self.found
        return bool(self.claims) and all(
            c.name in f.broken and f.sizes[c.name] < size for c in self.claims
        )

    def _no_shorter_than(self) -> int | None:
        """Once every claim broke, a run that already took this many steps cannot
        give any claim a shorter break: it is cut short (not run to its end)."""
        f = self.found
        if not self.claims or any(c.name not in f.broken for c in self.claims):
            return None
        return max(f.steps[c.name] for c in self.claims)

    # -- one workload ---------------------------------------------------------------
    def _workload(self, w: Workload, names: tuple[str, ...], start: Deferred | None) -> bool:
        """Every schedule of ``w`` in this round (from ``start``, where the last
        round deferred choices; None: from the beginning); False when stopped
        (deadline, schedule budget or harness error)."""
        path: list[Node] = []
        floor = 0  # the path never shrinks below the restart point
        if start is not None:
            path = [Node(c, [], {}, set()) for c in start.prefix]
            n = start.node
            path.append(Node(start.choices[0], start.choices[1:], n.sleep, n.cost_free,
                             done=list(n.done)))  # fmt: skip
            floor = len(start.prefix)
        values = self.choices.values(w)
        while True:
            if self.deadline is not None and time.perf_counter() > self.deadline:
                return False
            if self.max_schedules is not None and self.found.schedules >= self.max_schedules:
                return False
            schedule: list[Action] = []
            try:
                self._one_run(w, names, path, values, schedule)
            except BackendError:
                raise  # the servers cannot run this at all: one error, not a verdict
            except Exception as exc:  # a harness failure, never a verdict
                tail = "".join(traceback.format_exception(exc)[-3:]).strip()
                shown = ", ".join(a.do + (f" {who}" if (who := process_of(a)) else "")
                                  for a in schedule)  # fmt: skip
                self.found.error = f"{type(exc).__name__}: {exc} (schedule: {shown})\n{tail}"
                return False
            while len(path) > floor and not path[-1].todo:
                gone = path.pop()
                assert gone.footprint is not None
                gone.done.append((gone.taken, gone.footprint))  # complete for a restart
            if len(path) <= floor:
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
        cut = self._no_shorter_than()
        self._blocked = False
        steps = 0
        while True:
            if depth < len(path):
                node = path[depth]
            else:
                if cut is not None and steps >= cut:
                    break  # cannot end shorter than the breaks already found
                node_or_none = self._new_node(run, path)
                if node_or_none is None:
                    break
                node = node_or_none
                path.append(node)
            before = len(history.events)
            moved = self.s.invalidations.moved
            watch = self.watch
            if not watch.off:
                watch.before()
            for action in self.choices.actions(run, node.taken, values):
                if apply(self.s, action):
                    schedule.append(action)
            self.choices.took(run, node.taken)
            added = history.events[before:]
            steps += sum(1 for e in added if isinstance(e, Step))
            if node.taken.kind == "advance" and not watch.off:
                fp = of_advance(added)
            else:
                timed = watch.off or watch.after(added)
                fp = of_events(node.taken.process, added, self.s.keys, timed)
            if self.s.invalidations.moved != moved:  # footprint rule 6
                fp = Footprint(node.taken.process, total=True)
            if node.footprint is None:
                node.footprint = fp
            depth += 1
        self.s.settle()  # also for a run cut short: it keeps the connections
        self.found.schedules += 1
        if self._blocked:
            self.found.blocked += 1
        if cut is not None and steps >= cut:
            self.found.pruned += 1
            return
        if self.tier_level > 0 and not run.used_tier_feature:
            return  # a schedule of a weaker tier, searched there
        self._check(schedule, w.size, run.preemptions)

    def _new_node(self, run: RunState, path: list[Node]) -> Node | None:
        """The next point of the run, or None at its end. Choices past this
        round's bound are deferred to the next round."""
        sleep: dict[Choice, Footprint] = {}
        if path and self.reduce:
            parent = path[-1]
            assert parent.footprint is not None
            t = parent.taken
            candidates = dict(parent.sleep)
            bounded = self.scope.preemptions is not None
            for u, fp in parent.done:
                # Under a bound, only a non-preemptive u sleeps for a preempting t,
                # or a time advance for anything, or a step for a time advance.
                if (
                    not bounded
                    or (u in parent.cost_free and t not in parent.cost_free)
                    or u.kind == "advance"
                    or (t.kind == "advance" and u.kind == "step" and u in parent.cost_free)
                ):
                    candidates[u] = fp
            sleep = {u: fp for u, fp in candidates.items() if independent(fp, parent.footprint)}
        options: list[Choice] = []
        deferred: list[Choice] = []
        free: set[Choice] = set()
        for c in self.choices.enabled(run):
            cost = self.choices.cost(run, c)
            if cost == 0:
                free.add(c)
            if c in sleep:
                continue
            if self._bound is not None and run.preemptions + cost > self._bound:
                deferred.append(c)
                continue
            options.append(c)
        if not options and not deferred:
            self._blocked = bool(sleep) and bool(self.choices.enabled(run))
            return None
        self._blocked = not options
        node = Node(options[0] if options else deferred[0], options[1:], sleep, free)
        if deferred and self._bound is not None and self._bound < (self.scope.preemptions or 0):
            self._deferred.append(Deferred([n.taken for n in path], node, deferred))
        return node if options else None

    # -- verdicts -------------------------------------------------------------------
    def _check(self, schedule: list[Action], size: int, preemptions: int) -> None:
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
                f.preemptions[claim.name] = preemptions
                f.broken[claim.name] = broken_type(claim.name)(verdict, schedule, history)
