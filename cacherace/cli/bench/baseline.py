"""The baseline: the same strategy code in free-running threads, no harness control.

What a user does without cacherace: run clients in real threads against the real
servers and hope the race shows. Each client thread has its own connections and
runs random reads and writes of one key; an actor (a write-behind flusher) runs in
its own thread too. Runs are short rounds, like the harness's examples: the threads
start together at a barrier, do a few operations each, the actors are drained,
and the claim is checked over the history the threads recorded themselves. Each
operation's invoke and completion go into a lock-protected log, so the log's order
is a real-time order consistent with what happened (the order is all the claims
read); the end state is what the database and cache hold after the round.

It runs in a separate (spawned) process, so the driver interception the harness
installs is not even present: nothing here is scheduled or slowed by cacherace.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

#: Operations per client per round (drawn in this range), like a short example.
OPS_PER_ROUND = (1, 4)
CLIENTS = 2
KEY = "k1"


@dataclass(frozen=True)
class Job:
    strategy: str
    claim: str
    redis: tuple[str, int]
    conninfo: str
    seconds: float
    seed: int = 0


@dataclass
class Outcome:
    seconds: float
    violations: int
    first_detection_s: float | None
    rounds: int


class _Log:
    """The shared, lock-protected event log of one round."""

    def __init__(self, history: Any, started: float) -> None:
        self.history = history
        self.started = started
        self.lock = threading.Lock()
        self.written = 0

    def add(self, cls: type, **fields: Any) -> None:
        with self.lock:
            events = self.history.events
            events.append(cls(index=len(events), time=time.perf_counter() - self.started, **fields))

    def next_value(self) -> str:
        with self.lock:
            self.written += 1
            return f"{KEY}.{self.written}"


def _client(strategy: Any, name: str, ops: int, rng: random.Random, log: _Log,
            first_op: int) -> None:  # fmt: skip
    from cacherace.model.history import Complete, Invoke
    from cacherace.model.history import Outcome as Out

    for i in range(ops):
        op = first_op + i
        f = rng.choice(("read", "write"))
        value = log.next_value() if f == "write" else None
        log.add(Invoke, process=name, op=op, f=f, key=KEY, value=value)
        try:
            result = strategy.read(KEY) if f == "read" else strategy.write(KEY, value)
        except Exception as exc:  # a write may have taken effect: info, as the harness says
            log.add(Complete, process=name, op=op, f=f, key=KEY,
                    type=Out.FAIL if f == "read" else Out.INFO, error=str(exc))  # fmt: skip
            continue
        log.add(Complete, process=name, op=op, f=f, key=KEY, type=Out.OK,
                value=None if f == "write" or result is None else str(result))  # fmt: skip


def _drain(strategy: Any, actors: tuple[str, ...]) -> None:
    for actor in actors:
        for _ in range(100):
            if not getattr(strategy, actor)():
                break


def run_baseline(job: Job) -> Outcome:
    """Rounds of free-running threads for ``job.seconds``; count broken rounds."""
    import psycopg

    from cacherace.model.history import EndState, History
    from cacherace.properties import get_claim
    from cacherace.servers.base import new_redis_client
    from cacherace.strategies import Settings
    from cacherace.strategies.registry import CATALOG

    cls = CATALOG[job.strategy]
    claim = get_claim(job.claim)
    settings = Settings()  # real clock: threads have no virtual time
    admin_r = new_redis_client(*job.redis)
    admin_db = psycopg.connect(job.conninfo, autocommit=True)
    conns = [(new_redis_client(*job.redis), psycopg.connect(job.conninfo, autocommit=True))
             for _ in range(CLIENTS + len(cls.actors))]  # fmt: skip
    rng = random.Random(job.seed)
    initial = {KEY: f"{KEY}.0"}
    cls.create_schema(admin_db, settings)
    violations, rounds, first = 0, 0, None
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < job.seconds:
            admin_r.flushall()
            cls.reset(admin_db, settings, initial)
            history = History(initial=dict(initial), ttl=settings.ttl)
            log = _Log(history, time.perf_counter())
            strategies = [cls(r, db, settings) for r, db in conns]
            done = threading.Event()
            threads = []
            for i in range(CLIENTS):
                ops, own_rng = rng.randint(*OPS_PER_ROUND), random.Random(rng.random())
                args = (strategies[i], f"c{i}", ops, own_rng, log, i * 100)
                threads.append(threading.Thread(target=_client, args=args))
            for k, actor in enumerate(cls.actors):
                strategy = strategies[CLIENTS + k]
                threads.append(threading.Thread(target=_actor_loop, args=(strategy, actor, done)))
            for t in threads:
                t.start()
            for t in threads[:CLIENTS]:
                t.join()
            done.set()
            for t in threads[CLIENTS:]:
                t.join()
            _drain(strategies[0], cls.actors)
            cache = {KEY: cls.peek_cache(admin_r, settings, KEY)}
            held = cls.peek_database(admin_db, settings, [KEY])
            log.add(EndState, cache=cache, db=dict(held))
            rounds += 1
            if claim.check(history).broken:
                violations += 1
                if first is None:
                    first = time.perf_counter() - started
    finally:
        for r, db in [*conns, (admin_r, admin_db)]:
            r.close()
            db.close()
    return Outcome(round(time.perf_counter() - started, 3), violations,
                   None if first is None else round(first, 4), rounds)  # fmt: skip


def _actor_loop(strategy: Any, actor: str, done: threading.Event) -> None:
    """A background actor: works while the clients run (idle-polls when idle)."""
    while not done.is_set():
        try:
            getattr(strategy, actor)()
        except Exception:  # a failed flush is retried next turn, as a real flusher would
            time.sleep(0.0005)


def run_all(jobs: list[Job]) -> list[Outcome]:
    """Entry point of the spawned process."""
    import cacherace.engine.drivers.intercept as intercept

    assert not intercept._installed, "the baseline must run without the interception"
    return [run_baseline(job) for job in jobs]
