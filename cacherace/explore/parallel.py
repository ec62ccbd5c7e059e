"""Parallel exploration (``cacherace verify --jobs N``): worker processes, each with
its own servers, and their results merged as one process would have found them.

The split is chosen by what keeps the workers busy:

* several strategies: each worker explores whole strategies (every claim, tier by
  tier) with the code one process runs (:func:`check_strategy`), so each cell's
  verdict, evidence and trace are what ``--jobs 1`` gives (up to time caps);
* one strategy: each tier's exhaustive pass is split by workload
  (:class:`PooledSearch`). The scope's workloads, smallest first, go one at a time
  to whichever worker is free; their results are merged in workload order, as
  one process meets them: schedules summed, each claim's shortest failing run
  (the earlier workload on a tie), no workload counted once every claim broke in
  smaller ones, complete only when every workload was, and the first harness
  error ends the search keeping what came before it. The random (Hypothesis)
  pass of that strategy runs in this process, on this process's servers.

Workers are spawned, not forked (this process holds servers, threads and patched
drivers), and open their backend on first use: no two share a server. A worker's
servers die with it (their PR_SET_PDEATHSIG); a worker dies with this process
(the same, set in the worker); workers ignore Ctrl-C and stop on SIGTERM through
their ``finally``, which stops their servers; :meth:`Pool.close` sends it. A
worker that dies anyway is a harness error on what it ran, never a verdict.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any

from cacherace.engine.engine import HarnessError, Scheduler
from cacherace.explore import hygiene
from cacherace.explore.cell import Budget, CellResult
from cacherace.explore.check import check_strategy
from cacherace.explore.machine import ClaimBroken, broken_type
from cacherace.explore.scope import Scope, workloads
from cacherace.explore.systematic import Found, Search
from cacherace.properties import Claim, get_claim
from cacherace.servers.reaper import sweep_dirs
from cacherace.strategies import Settings
from cacherace.strategies.registry import load_strategy_spec

STOP_SECONDS = 10.0  # a worker's time to stop its servers after SIGTERM, then SIGKILL

Packed = tuple[Any, list[Any], Any]  # a ClaimBroken as (verdict, schedule, history)


def pack(broken: ClaimBroken) -> Packed:
    """ClaimBroken's per-claim types are made at run time: send what rebuilds one."""
    return broken.verdict, broken.schedule, broken.history


def unpack(packed: Packed) -> ClaimBroken:
    verdict, schedule, history = packed
    return broken_type(verdict.claim)(verdict, schedule, history)


# -- tasks: what a worker is asked to do ------------------------------------------
@dataclass(frozen=True)
class StrategyTask:
    """Explore one strategy entirely, as ``check_strategy`` does in one process."""

    spec: str
    claims: tuple[str, ...]
    budget: Budget
    clients: int
    keys: int
    tiers: tuple[str, ...]
    trace_dir: str


@dataclass(frozen=True)
class WorkloadTask:
    """Every schedule of workload ``number`` of ``scope`` for one tier."""

    spec: str
    clients: int
    keys: tuple[str, ...]
    settings: Settings
    claims: tuple[str, ...]
    tier: str
    scope: Scope
    number: int
    reduce: bool
    deadline: float | None  # time.monotonic(), the same clock in every process
    max_schedules: int | None = None  # the tier's budget, for this workload alone


class _Worker:
    """A worker's state: its backend (opened on first use) and one scheduler."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.backend: Any = None
        self.key: tuple[Any, ...] | None = None
        self.scheduler: Scheduler | None = None

    def _backend(self) -> Any:
        if self.backend is None:
            from cacherace.servers import open_backend

            self.backend = open_backend(**self.options)
        return self.backend

    def _drop_scheduler(self) -> None:
        # One scheduler at a time: another strategy's create_schema may change the tables.
        if self.scheduler is not None:
            hygiene.end_run(self.scheduler)
            self.scheduler.close()
        self.scheduler, self.key = None, None

    def run(self, task: StrategyTask | WorkloadTask) -> Any:
        if isinstance(task, StrategyTask):
            self._drop_scheduler()
            results = check_strategy(
                self._backend(), task.spec, task.claims, budget=task.budget,
                clients=task.clients, keys=task.keys, tiers=task.tiers, trace_dir=task.trace_dir,
            )  # fmt: skip
            return [(replace(r, broken=None), r.broken and pack(r.broken)) for r in results]
        return self._workload(task)

    def _workload(self, t: WorkloadTask) -> tuple[Found, dict[str, Packed], float]:
        key = (t.spec, t.clients, t.keys)
        if self.key != key:
            self._drop_scheduler()
            cls, backend = load_strategy_spec(t.spec), self._backend()
            self.scheduler = Scheduler(
                cls, backend.redis(cls.persistence), backend.postgres(),
                clients=t.clients, keys=t.keys, settings=t.settings,
            )  # fmt: skip
            self.key = key
        assert self.scheduler is not None
        started = time.monotonic()
        deadline = None if t.deadline is None else time.perf_counter() + t.deadline - started
        claims = [get_claim(c) for c in t.claims]
        found = Search(self.scheduler, claims, t.tier, t.scope, reduce=t.reduce, deadline=deadline,
                       max_schedules=t.max_schedules, select=t.number.__eq__).run()  # fmt: skip
        broken = {c: pack(b) for c, b in found.broken.items()}
        return replace(found, broken={}), broken, started

    def close(self) -> None:
        try:
            self._drop_scheduler()
        finally:
            if self.backend is not None:
                self.backend.close()


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through finally: servers are stopped


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl
        raise SystemExit(1)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it crosses a pipe intact, else a HarnessError."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return HarnessError(f"{type(exc).__name__}: {exc}")


def _serve(conn: Connection, options: dict[str, Any], parent: int) -> None:
    """A worker's loop: a task in, ``(tag, "ok" | "error", value)`` out, until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides on Ctrl-C
    signal.signal(signal.SIGTERM, _stop)
    _die_with_parent(parent)
    worker = _Worker(options)
    try:
        while (message := conn.recv()) is not None:
            tag, task = message
            try:
                conn.send((tag, "ok", worker.run(task)))
            except Exception as exc:
                conn.send((tag, "error", _portable(exc)))
    except EOFError:
        pass  # the parent is gone
    finally:
        worker.close()


# -- the pool: the parent's side --------------------------------------------------
@dataclass
class _Handle:
    index: int
    process: Any
    conn: Connection
    busy: tuple[int, int] | None = None  # (generation, task index)
    task: Any = None


class Pool:
    """``jobs`` worker processes; :meth:`imap` spreads tasks over them."""

    def __init__(self, jobs: int, options: dict[str, Any]) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        ctx = multiprocessing.get_context("spawn")
        self.live: list[_Handle] = []
        self._generation = 0
        try:
            for i in range(jobs):
                mine, theirs = ctx.Pipe()
                p = ctx.Process(target=_serve, args=(theirs, options, os.getpid()),
                                name=f"cacherace-worker-{i}", daemon=True)  # fmt: skip
                p.start()
                theirs.close()
                self.live.append(_Handle(i, p, mine))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def imap(self, tasks: Sequence[Any]) -> Iterator[tuple[int, str, Any]]:
        """``(task index, "ok" | "error" | "died", value)`` as tasks finish. Leaving
        early is fine: results of tasks still running are dropped when they come."""
        self._generation += 1
        generation = self._generation
        todo = deque(enumerate(tasks))
        while True:
            for h in list(self.live):
                if h.busy is None and todo:
                    i, task = todo.popleft()
                    h.busy, h.task = (generation, i), task
                    try:
                        h.conn.send(((generation, i), task))
                    except OSError:  # it died while idle: the task goes to another
                        todo.appendleft((i, task))
                        self._receive(h)
            busy = [h for h in self.live if h.busy is not None]
            if not busy:
                for i, _ in todo:  # every worker died
                    yield i, "died", "no worker process is left (each one died)"
                return
            for conn in wait([h.conn for h in busy]):
                h = next(h for h in busy if h.conn is conn)
                assert h.busy is not None
                tag, status, value = self._receive(h)
                h.busy, h.task = None, None
                if tag[0] == generation:
                    yield tag[1], status, value

    def _receive(self, h: _Handle) -> tuple[tuple[int, int], str, Any]:
        assert h.busy is not None
        try:
            return h.conn.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError):
            self.live.remove(h)
            h.process.join(STOP_SECONDS)
            code = h.process.exitcode
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            sweep_dirs()  # its servers died with it (PDEATHSIG); their directories did not
            what = getattr(h.task, "spec", "?")
            return h.busy, "died", f"worker process {h.process.pid} died ({how}) exploring {what}"

    def close(self) -> None:
        """Stop every worker: None to an idle one, SIGTERM to a busy one; kill after
        ``STOP_SECONDS``. Their servers stop with them (or die with them)."""
        for h in self.live:
            with contextlib.suppress(OSError):
                if h.busy is None:
                    h.conn.send(None)
                elif h.process.is_alive():
                    h.process.terminate()
        for h in self.live:
            h.process.join(STOP_SECONDS)
            if h.process.is_alive():
                h.process.kill()
                h.process.join()
            h.conn.close()
        sweep_dirs()  # again: a dead worker's server may have written after the first sweep
        self.live = []


# -- one strategy: its exhaustive pass split by workload ---------------------------
class PooledSearch(Search):
    """:class:`Search` whose workloads run on ``pool``; merged as described above."""

    def __init__(self, scheduler: Scheduler, claims: Sequence[Claim], tier: str, scope: Scope,
                 *, pool: Pool, spec: str, **options: Any) -> None:  # fmt: skip
        super().__init__(scheduler, claims, tier, scope, **options)
        self.pool, self.spec, self.tier = pool, spec, tier

    def run(self) -> Found:
        started = time.monotonic()
        self._started = time.perf_counter()
        deadline = None if self.deadline is None else started + self.deadline - self._started
        every = list(workloads(self.scope, self.s.keys, len(self.s.actors)))
        numbers = [n for n in range(len(every)) if self.select is None or self.select(n)]
        settings = replace(self.s.settings, clock=time.time)  # the worker sets its own clock
        tasks = [WorkloadTask(self.spec, len(self.s.clients), self.s.keys, settings,
                              tuple(c.name for c in self.claims), self.tier, self.scope, n,
                              self.reduce, deadline, self.max_schedules)
                 for n in numbers]  # fmt: skip
        waiting: dict[int, tuple[str, Any]] = {}
        merged = 0
        try:
            for i, status, value in self.pool.imap(tasks):
                waiting[i] = (status, value)
                while merged in waiting:  # in workload order, as one process meets them
                    if not self._merge(every[numbers[merged]].size, *waiting.pop(merged), started):
                        return self.found
                    merged += 1
                if merged == len(tasks):
                    break
        finally:
            self.found.seconds = time.perf_counter() - self._started
        return self.found

    def _merge(self, size: int, status: str, value: Any, started: float) -> bool:
        """Add one workload's result; False when the search ends here."""
        f = self.found
        if self._all_broken_below(size):
            return False  # one process would not have run this workload
        if status != "ok":
            f.complete = False
            f.error = value if status == "died" else f"{type(value).__name__}: {value}"
            return False
        part, broken, began = value
        for claim, (n, seconds) in part.first_failure.items():
            f.first_failure.setdefault(claim, (f.schedules + n, began - started + seconds))
        f.schedules += part.schedules
        f.reached_driver |= part.reached_driver
        for name, counts in part.statuses.items():
            _add(f.statuses.setdefault(name, {}), counts)
        for name, counts in part.unknown_reasons.items():
            _add(f.unknown_reasons.setdefault(name, {}), counts)
        for claim, packed in broken.items():
            if claim not in f.steps or part.steps[claim] < f.steps[claim]:
                f.steps[claim], f.sizes[claim] = part.steps[claim], part.sizes[claim]
                f.broken[claim] = unpack(packed)
        if part.error is not None:
            f.complete, f.error = False, part.error
            return False
        spent = self.max_schedules is not None and f.schedules >= self.max_schedules
        f.complete &= part.complete and not spent  # a capped workload: later ones still count
        return not spent  # each workload had the tier's whole budget: the merge stops at it


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for k, v in more.items():
        total[k] = total.get(k, 0) + v


# -- verify's entry point ---------------------------------------------------------
def verify_parallel(
    backend: Any, options: dict[str, Any], strategies: Sequence[tuple[str, Sequence[str]]],
    *, jobs: int, budget: Budget, clients: int, keys: int, tiers: Sequence[str],
    trace_dir: str, on_done: Any = None,
) -> list[CellResult]:  # fmt: skip
    """Explore ``(spec, claims)`` pairs on ``jobs`` workers opened with ``options``
    (``open_backend``'s keywords); ``backend`` serves this process's random pass
    when there is one strategy. ``on_done(spec, results)`` as each one ends."""
    report = on_done or (lambda spec, results: None)
    if len(strategies) == 1:
        (spec, claims), = strategies  # fmt: skip
        with Pool(jobs, options) as pool:
            split = replace(budget, search=partial(PooledSearch, pool=pool, spec=spec))
            out = check_strategy(backend, spec, claims, budget=split, clients=clients,
                                 keys=keys, tiers=tiers, trace_dir=trace_dir)  # fmt: skip
        report(spec, out)
        return out
    tasks = [StrategyTask(spec, tuple(claims), budget, clients, keys, tuple(tiers), trace_dir)
             for spec, claims in strategies]  # fmt: skip
    done: dict[int, list[CellResult]] = {}
    with Pool(min(jobs, len(tasks)), options) as pool:
        for i, status, value in pool.imap(tasks):
            task = tasks[i]
            if status == "error":
                raise value  # as in one process: BackendError, HarnessError end the run
            if status == "ok":
                done[i] = [replace(r, broken=b and unpack(b)) for r, b in value]
            else:
                done[i] = [CellResult(task.spec, c, "unknown", harness_error=value,
                                      reason=f"the harness could not run: {value}")
                           for c in task.claims]  # fmt: skip
            report(task.spec, done[i])
    return [r for i in range(len(tasks)) for r in done[i]]
