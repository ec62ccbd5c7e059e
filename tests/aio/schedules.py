"""The shortest schedules that break the async recipes' claims (what the explorer
shrank them to), from which ``traces/`` is recorded: ``python -m
tests.aio.schedules tests/aio/traces`` writes them again; CI replays them.

The async cache-aside's are the sync cache-aside's, action for action.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ASYNC = "cacherace.contrib.async_cache_aside:AsyncCacheAside"
AIOCACHE = "cacherace.contrib.aiocache_cached:AiocacheCached"


def start(p: str, f: str, value: str | None = None) -> dict[str, Any]:
    action = {"do": "start", "process": p, "f": f, "key": "k1"}
    return action if value is None else {**action, "value": value}


def step(p: str) -> dict[str, Any]:
    return {"do": "step", "process": p}


def finish(p: str) -> dict[str, Any]:
    return {"do": "finish", "process": p}


# The stale set: the reader misses and reads the row; a write commits and deletes;
# the reader stores what it read (aiocache #95, "Race condition in @cached").
STALE_SET = [start("c0", "read"), step("c0"), step("c0"), start("c1", "write", "k1.1"),
             finish("c1")]  # fmt: skip
# ...and the writer then reads its own write back from the stale entry.
STALE_READ = [start("c1", "read"), step("c1"), step("c1"), start("c0", "write", "k1.1"),
              finish("c0"), finish("c1"), start("c0", "read"), finish("c0")]  # fmt: skip
# The stale entry outlives the write by a second and more (the TTL is the bound).
STALE_TTL = [*STALE_SET, {"do": "advance", "seconds": 1.0}, finish("c0")]

#: name -> (strategy, claim, tier, actions)
FINDINGS: dict[str, tuple[str, str, str, list[dict[str, Any]]]] = {
    "aiocache-cached--converges": (AIOCACHE, "converges", "concurrency", STALE_SET),
    "aiocache-cached--fresh-after-ack": (AIOCACHE, "fresh-after-ack", "concurrency", STALE_READ),
    "cache-aside-async--converges": (ASYNC, "converges", "concurrency", STALE_SET),
    "cache-aside-async--fresh-after-ack": (ASYNC, "fresh-after-ack", "concurrency", STALE_READ),
    "cache-aside-async--ttl-bounded": (ASYNC, "ttl-bounded", "time", STALE_TTL),
}


def record(directory: Path) -> None:
    """Record every finding's trace into ``directory`` (real servers)."""
    from cacherace.engine.engine import Scheduler
    from cacherace.explore.replay import record_trace
    from cacherace.report.trace import save
    from cacherace.servers import open_backend
    from cacherace.strategies.registry import load_strategy

    backend = open_backend("auto")
    try:
        for name, (spec, claim, tier, actions) in FINDINGS.items():
            cls = load_strategy(spec)
            s = Scheduler(cls, backend.redis(cls.persistence), backend.postgres(), clients=2)
            try:
                trace = record_trace(s, spec, claim, actions, tier=tier)
            finally:
                s.close()
            assert trace.verdict.broken, (name, trace.verdict)
            path = save(trace, directory)
            path.rename(directory / f"{name}.json")
            print(name, "->", trace.verdict.reason)
    finally:
        backend.close()


if __name__ == "__main__":
    record(Path(sys.argv[1]))
