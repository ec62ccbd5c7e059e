"""Harness cost: a raw driver call vs the same call as a controlled step, and how
many full three-client schedules run per second.

Both sides make the article's cache-aside calls (GET, SELECT, SET EX, UPSERT, DEL)
through the same helpers on the same servers, in alternating blocks so drift on a
shared machine hits both alike. A controlled step is timed from the hub around
``Scheduler.step``: the switch into the worker, the call, the history event, TTL
and database-timeline bookkeeping, the strategy code up to its next driver call,
and the switch back. Everything a step costs is in the figure.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cacherace.engine.engine import Scheduler
from cacherace.strategies._common import select_value, upsert
from cacherace.strategies.base import Settings, Strategy
from cacherace.strategies.cache_aside import CacheAside

#: The call mix, in the order one cache-aside read-then-write makes them.
CALLS = ("GET", "SELECT", "SET EX", "UPSERT", "DEL")


class CallMix(Strategy):
    """Bench-only strategy: one ``read`` makes exactly the five calls of ``CALLS``."""

    name: ClassVar[str] = "bench-call-mix"

    def read(self, key: str) -> str | None:
        ck = self.settings.cache_key(key)
        self.redis.get(ck)
        value = select_value(self.db, self.settings.table, key)
        self.redis.set(ck, value or "", ex=self.settings.ttl)
        upsert(self.db, self.settings.table, key, f"{key}.x")
        self.redis.delete(ck)
        return value

    def write(self, key: str, value: str) -> None:  # never scheduled by the bench
        upsert(self.db, self.settings.table, key, value)


@dataclass
class StepFigures:
    raw: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})
    controlled: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})

    @staticmethod
    def _median_us(samples: dict[str, list[float]]) -> float:
        return statistics.median(x for xs in samples.values() for x in xs) * 1e6

    def as_json(self) -> dict[str, float]:
        raw, controlled = self._median_us(self.raw), self._median_us(self.controlled)
        return {
            "raw_us": round(raw, 1),
            "controlled_us": round(controlled, 1),
            "ratio": round(controlled / raw, 3),
        }

    def by_call(self) -> dict[str, tuple[float, float]]:
        """Per call: (raw, controlled) medians in microseconds."""
        return {
            c: (statistics.median(self.raw[c]) * 1e6, statistics.median(self.controlled[c]) * 1e6)
            for c in CALLS
        }


def _raw_cycle(r: Any, db: Any, settings: Settings, key: str, out: dict[str, list[float]]) -> None:
    ck = settings.cache_key(key)
    calls: tuple[Callable[[], Any], ...] = (
        lambda: r.get(ck),
        lambda: select_value(db, settings.table, key),
        lambda: r.set(ck, f"{key}.0", ex=settings.ttl),
        lambda: upsert(db, settings.table, key, f"{key}.x"),
        lambda: r.delete(ck),
    )
    clock = time.perf_counter
    for name, call in zip(CALLS, calls, strict=True):
        t0 = clock()
        call()
        out[name].append(clock() - t0)


def controlled_cycle(s: Scheduler, out: dict[str, list[float]]) -> None:
    """One controlled read of the call mix, each step timed from the hub (the
    async bench's too: its strategy makes the same five calls, awaited)."""
    s.start("c0", "read", "k1")  # runs to the GET, parked: not a step yet
    clock = time.perf_counter
    for name in CALLS:
        t0 = clock()
        s.step("c0")
        out[name].append(clock() - t0)
    assert not s.busy("c0"), "the call mix took more steps than it makes calls"


def measure_steps(redis_server: Any, pg_server: Any, *, cycles: int = 2000,
                  block: int = 100) -> StepFigures:  # fmt: skip
    """``cycles`` cycles of the five calls each way, in alternating blocks."""
    figures = StepFigures()
    s = Scheduler(CallMix, redis_server, pg_server, clients=1, keys=("k1",), settings=Settings())
    r = redis_server.client()
    db = pg_server.connect(autocommit=True)
    try:
        s.reset()
        for _ in range(20):  # warm up: connections, psycopg's auto-prepare, caches
            _raw_cycle(r, db, s.settings, "k1", figures.raw)
            controlled_cycle(s, figures.controlled)
        figures = StepFigures()
        for _ in range(max(1, cycles // block)):
            s.reset()  # keeps the history short; outside the timed calls
            for _ in range(block):
                _raw_cycle(r, db, s.settings, "k1", figures.raw)
            for _ in range(block):
                controlled_cycle(s, figures.controlled)
    finally:
        s.close()
        r.close()
        db.close()
    return figures


def schedules_per_second(redis_server: Any, pg_server: Any, *, seconds: float = 3.0,
                         seed: int = 0) -> tuple[float, int]:  # fmt: skip
    """Full random schedules of cache-aside on one key (c0, c1 read, c2 writes): start
    all three, step a random busy client until none is, settle. Returns (rate, count)."""
    rng = random.Random(seed)
    s = Scheduler(CacheAside, redis_server, pg_server, clients=3, keys=("k1",), settings=Settings())
    count = 0
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            s.reset()
            s.start("c0", "read", "k1")
            s.start("c1", "read", "k1")
            s.start("c2", "write", "k1", f"k1.{count + 1}")
            busy = [p for p in s.clients if s.busy(p)]
            while busy:
                s.step(rng.choice(busy))
                busy = [p for p in busy if s.busy(p)]
            s.settle()
            count += 1
        elapsed = time.perf_counter() - started
    finally:
        s.close()
    return count / elapsed, count
