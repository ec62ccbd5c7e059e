"""Harness cost for async code: a raw awaited ``redis.asyncio`` / async psycopg
call vs the same call as a controlled step.

The raw side awaits each call in a coroutine on a plain asyncio loop and times the
``await``; the controlled side is timed from the hub around ``Scheduler.step``, as
for sync code (:mod:`.step`): the switch into the worker, resuming its loop, the
awaited call, the history event, the bookkeeping, the strategy code up to its next
driver call and the switch back. Same calls, same servers, alternating blocks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import psycopg
import redis.asyncio

from cacherace.cli.bench.step import CALLS, StepFigures, controlled_cycle
from cacherace.engine.engine import Scheduler
from cacherace.strategies.base import Settings, Strategy

_SELECT = "SELECT value FROM {} WHERE key = %s"
_UPSERT = (
    "INSERT INTO {} AS t (key, value, version) VALUES (%s, %s, 1) ON CONFLICT (key) "
    "DO UPDATE SET value = EXCLUDED.value, version = t.version + 1 RETURNING t.version"
)


async def _calls(r: Any, db: Any, settings: Settings, key: str, clock: Any,
                 out: dict[str, list[float]] | None) -> None:  # fmt: skip
    """The five calls, awaited in order; each await timed into ``out`` when given."""
    ck, table = settings.cache_key(key), settings.table
    t0 = clock()
    await r.get(ck)
    t1 = clock()
    row = await (await db.execute(_SELECT.format(table), (key,))).fetchone()
    t2 = clock()
    await r.set(ck, row[0] if row else "", ex=settings.ttl)
    t3 = clock()
    await (await db.execute(_UPSERT.format(table), (key, f"{key}.x"))).fetchone()
    t4 = clock()
    await r.delete(ck)
    t5 = clock()
    if out is not None:
        for name, took in zip(CALLS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            out[name].append(took)


class AsyncCallMix(Strategy):
    """Bench-only async strategy: one ``read`` makes exactly the five calls."""

    name: ClassVar[str] = "bench-async-call-mix"

    async def read(self, key: str) -> str | None:  # type: ignore[override]
        await _calls(self.redis, self.db, self.settings, key, time.perf_counter, None)
        return None

    async def write(self, key: str, value: str) -> None:  # type: ignore[override]  # not run
        return None


def measure_async_steps(redis_server: Any, pg_server: Any, *, cycles: int = 2000,
                        block: int = 100) -> StepFigures:  # fmt: skip
    """``cycles`` cycles of the five awaited calls each way, in alternating blocks."""
    s = Scheduler(AsyncCallMix, redis_server, pg_server, clients=1, keys=("k1",),
                  settings=Settings())  # fmt: skip
    loop = asyncio.new_event_loop()
    sync = redis_server.client()
    r = redis.asyncio.Redis(host=sync.connection_pool.connection_kwargs["host"],
                            port=sync.connection_pool.connection_kwargs["port"],
                            decode_responses=True)  # fmt: skip
    sync.close()
    db = loop.run_until_complete(psycopg.AsyncConnection.connect(pg_server.conninfo(),
                                                                 autocommit=True))  # fmt: skip
    figures = StepFigures()

    async def raw(n: int, out: dict[str, list[float]]) -> None:
        for _ in range(n):
            await _calls(r, db, s.settings, "k1", time.perf_counter, out)

    try:
        s.reset()
        for _ in range(20):  # warm up: connections, psycopg's auto-prepare, caches
            loop.run_until_complete(raw(1, figures.raw))
            controlled_cycle(s, figures.controlled)
        figures = StepFigures()
        for _ in range(max(1, cycles // block)):
            s.reset()  # keeps the history short; outside the timed calls
            loop.run_until_complete(raw(block, figures.raw))
            for _ in range(block):
                controlled_cycle(s, figures.controlled)
    finally:
        s.close()
        loop.run_until_complete(r.aclose())
        loop.run_until_complete(db.close())
        loop.close()
    return figures
