"""The shortest schedules that break the recipes' claims, written out by hand.

Each is what the README's "What real libraries show" table says in words. The
traces under ``traces/`` were recorded from these (``python -m
tests.contrib.schedules DIR`` writes them again); CI replays them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

DOGPILE = "cacherace.contrib.dogpile"
FLASK = "cacherace.contrib.flask_caching"
CASHEWS = "cacherace.contrib.cashews_cache"
CACHEOPS = "cacherace.contrib.django_cacheops"


def start(p: str, f: str, key: str = "k1", value: str | None = None) -> dict[str, Any]:
    action = {"do": "start", "process": p, "f": f, "key": key}
    return action if value is None else {**action, "value": value}


def step(p: str, n: int = 1) -> list[dict[str, Any]]:
    return [{"do": "step", "process": p}] * n


def finish(p: str) -> dict[str, Any]:
    return {"do": "finish", "process": p}


class Finding(NamedTuple):
    strategy: str
    claim: str
    tier: str
    actions: list[dict[str, Any]]
    words: str
    initial: dict[str, str] | None = None  # None: every key's row present (k1 = k1.0)


def stale_set(reader_steps: int) -> list[dict[str, Any]]:
    """The stale set: c0's read takes ``reader_steps`` calls (up to and including the
    one that reads the row); c1's write runs to its end; c0 stores what it read."""
    return [start("c0", "read"), *step("c0", reader_steps), start("c1", "write", value="k1.1"),
            finish("c1"), finish("c0")]  # fmt: skip


# dogpile: c0's get_or_create holds the lock and has read the row (GET, SET NX,
# GET again, SELECT); c1's write commits and deletes; c0 stores what it read.
_STALE_SET = stale_set(4)

# cacheops: c0's get misses and SELECTs; c1's write runs to its end; c0 caches.
_CACHEOPS_STALE_SET = stale_set(2)
# c0's read caches k1.0; c1's write commits (4 SQL steps) and dies before invalidating.
_CACHEOPS_CRASH_AFTER_COMMIT = [start("c0", "read"), finish("c0"),
                                start("c1", "write", value="k1.1"), *step("c1", 4),
                                {"do": "client-crash", "process": "c1"}]  # fmt: skip

FINDINGS: dict[str, Finding] = {
    "dogpile-locked--converges": Finding(
        f"{DOGPILE}:DogpileLocked",
        "converges",
        "concurrency",
        _STALE_SET,
        "the creator (holding the lock) reads the row, a write commits and deletes,"
        " the creator stores the old value: the lock elects one creator, it does not"
        " order it after writes",
    ),
    "dogpile-locked--fresh-after-ack": Finding(
        f"{DOGPILE}:DogpileLocked",
        "fresh-after-ack",
        "concurrency",
        [*_STALE_SET, start("c1", "read"), finish("c1")],
        "the same stale set, then a read after the write was acknowledged returns the old value",
    ),
    "dogpile-locked--bounded-wait": Finding(
        f"{DOGPILE}:DogpileLocked",
        "bounded-wait",
        "faults",
        [
            start("c0", "read"),
            *step("c0", 2),
            {"do": "client-crash", "process": "c0"},
            start("c1", "read"),
            finish("c1"),
        ],
        "the creator crashes holding the lock, which has no timeout: every other"
        " reader of the key waits forever",
    ),
    "dogpile-lock-timeout--single-flight": Finding(
        f"{DOGPILE}:DogpileLockTimeout",
        "single-flight",
        "time",
        [
            start("c0", "read"),
            *step("c0", 4),
            {"do": "advance", "seconds": 6.0},
            start("c1", "read"),
            finish("c1"),
            finish("c0"),
        ],
        "the creator is slow (6 s) building the value, its 5 s lock expires, a second"
        " reader takes the lock and reads the database too",
    ),
    "flask-caching-memoize--fresh-after-ack": Finding(
        f"{FLASK}:FlaskCachingMemoize",
        "fresh-after-ack",
        "concurrency",
        [start("c0", "read"), *step("c0", 3), start("c1", "read"), finish("c1"), finish("c0")],
        "Flask-Caching #135: c0's GET misses, c1 fills the key, c0's EXISTS then finds"
        " it and c0 returns None although the row exists (cache_none=True)",
    ),
    "flask-caching-memoize--converges": Finding(
        f"{FLASK}:FlaskCachingMemoize",
        "converges",
        "concurrency",
        stale_set(5),
        "the stale set of cache-aside: c0 reads the row, c1's write commits and"
        " delete_memoized deletes, c0 stores the old value",
    ),
    # cacheops: a read is GET (miss), SELECT, then a script that SETEXes the rows; a
    # write (update_or_create) is SELECT FOR UPDATE, SELECT, UPDATE, COMMIT, then
    # one invalidation script for the old row and one for the new.
    "cacheops-get--converges": Finding(
        f"{CACHEOPS}:CacheopsGet",
        "converges",
        "concurrency",
        _CACHEOPS_STALE_SET,
        "the stale set: c0's get misses and SELECTs the row; c1's update_or_create"
        " commits and invalidates (nothing cached yet); c0's script caches the old row",
    ),
    "cacheops-get--fresh-after-ack": Finding(
        f"{CACHEOPS}:CacheopsGet",
        "fresh-after-ack",
        "concurrency",
        [*_CACHEOPS_STALE_SET, start("c1", "read"), finish("c1")],
        "the same stale set, then the writer's own read after its acknowledged write"
        " gets the old row from the cache",
    ),
    "cacheops-get--fresh-after-ack--478": Finding(
        f"{CACHEOPS}:CacheopsGet",
        "fresh-after-ack",
        "concurrency",
        [*_CACHEOPS_STALE_SET, start("c1", "read"), finish("c1")],
        "cacheops #478, with no row at the start: c0's get finds nothing; c1's"
        " update_or_create inserts the row, its invalidation finds nothing to delete;"
        " c0 caches the empty result, and c1's read of its own write gets DoesNotExist",
        initial={},
    ),
    "cacheops-get--converges--crash": Finding(
        f"{CACHEOPS}:CacheopsGet",
        "converges",
        "faults",
        _CACHEOPS_CRASH_AFTER_COMMIT,
        "the invalidation is not part of the transaction: c0 caches the row, c1's"
        " write commits and crashes before its invalidation script: the old row stays"
        " cached for the timeout",
    ),
    "cacheops-locked--converges": Finding(
        f"{CACHEOPS}:CacheopsLocked",
        "converges",
        "concurrency",
        stale_set(3),
        "the stale set with the lock: c0's get misses, takes the LOCK and SELECTs; c1's"
        " write commits and invalidates (the LOCK is in no conj set); c0 caches the old row",
    ),
    "cacheops-locked--fresh-after-ack": Finding(
        f"{CACHEOPS}:CacheopsLocked",
        "fresh-after-ack",
        "concurrency",
        [*stale_set(3), start("c1", "read"), finish("c1")],
        "the same stale set, then the writer reads the old row back",
    ),
    "cacheops-locked--single-flight": Finding(
        f"{CACHEOPS}:CacheopsLocked",
        "single-flight",
        "time",
        [
            start("c0", "read"),
            *step("c0", 3),
            {"do": "advance", "seconds": 61.0},
            start("c1", "read"),
            finish("c1"),
            finish("c0"),
        ],
        "the filler has held the LOCK (60 s, cacheops' LOCK_TIMEOUT) for 61 s after its"
        " SELECT; the LOCK expires, c1 takes it and SELECTs too",
    ),
    "cacheops-keep-fresh--converges--crash": Finding(
        f"{CACHEOPS}:CacheopsKeepFresh",
        "converges",
        "faults",
        _CACHEOPS_CRASH_AFTER_COMMIT,
        "keep_fresh guards the fill, not the write: c0 caches the row, c1's write"
        " commits and crashes before its invalidation script",
    ),
}

# cashews: the stale set of cache-aside. @cache: c0's call misses (GET) and reads
# the row; c1's write commits and deletes; c0 stores the old value (SET ... PX).
_CASHEWS_STALE = [start("c0", "read"), *step("c0", 2), start("c1", "write", value="k1.1"),
                  finish("c1"), finish("c0")]  # fmt: skip
# @cache(lock=True): the same, c0 holding the lock (SET NX PX, GET, SELECT)
_CASHEWS_LOCKED_STALE = [start("c0", "read"), *step("c0", 3), start("c1", "write", value="k1.1"),
                         finish("c1"), finish("c0")]  # fmt: skip
# @cache.early: a hit older than early_ttl (100 s) takes the refresh lock and reads
# the row; c1's write commits and deletes; the refresh stores the old value (its cold
# miss has cashews-cache's 5-step stale set too: this is the refresh's own, with time)
_CASHEWS_EARLY_STALE = [start("c0", "read"), finish("c0"), {"do": "advance", "seconds": 150.0},
                        start("c0", "read"), *step("c0", 3), start("c1", "write", value="k1.1"),
                        finish("c1"), finish("c0")]  # fmt: skip

FINDINGS.update({
    "cashews-cache--converges": Finding(
        f"{CASHEWS}:CashewsCache", "converges", "concurrency", _CASHEWS_STALE,
        "c0's call misses and reads the row, c1's write commits and deletes, c0 stores"
        " the old value (aiocache #95's race, in cashews)",
    ),
    "cashews-cache--fresh-after-ack": Finding(
        f"{CASHEWS}:CashewsCache", "fresh-after-ack", "concurrency",
        [*_CASHEWS_STALE, start("c1", "read"), finish("c1")],
        "the same stale set, then the writer reads its acknowledged write back as the old value",
    ),
    "cashews-locked--converges": Finding(
        f"{CASHEWS}:CashewsLocked", "converges", "concurrency", _CASHEWS_LOCKED_STALE,
        "c0 takes the key's lock, misses and reads the row; c1's write (which takes no"
        " lock) commits and deletes; c0 stores the old value and unlocks",
    ),
    "cashews-locked--fresh-after-ack": Finding(
        f"{CASHEWS}:CashewsLocked", "fresh-after-ack", "concurrency",
        [*_CASHEWS_LOCKED_STALE, start("c1", "read"), finish("c1")],
        "the same stale set under the lock, then the writer reads the old value back",
    ),
    "cashews-locked--single-flight": Finding(
        f"{CASHEWS}:CashewsLocked", "single-flight", "time",
        [start("c0", "read"), *step("c0", 3), {"do": "advance", "seconds": 301.0},
         start("c1", "read"), finish("c1"), finish("c0")],
        "c0 holds the lock and has read the row; it takes longer than the lock's TTL (the"
        " cache's, 300 s); the lock expires, c1 takes it and reads the database too",
    ),
    "cashews-early--converges-refresh": Finding(
        f"{CASHEWS}:CashewsEarly", "converges", "time", _CASHEWS_EARLY_STALE,
        "150 s after the fill, c0's read is served the entry and refreshes it early: it"
        " takes the refresh lock and reads the row; c1's write commits and deletes; the"
        " refresh stores the old value for a whole TTL",
    ),
})  # fmt: skip


def record(directory: Path, names: list[str] | None = None) -> None:
    """Record every finding's trace (or those ``names``) into ``directory`` (real servers)."""
    from dataclasses import replace

    from cacherace.engine.engine import Scheduler
    from cacherace.explore.apply import run
    from cacherace.explore.replay import record_trace
    from cacherace.properties import check
    from cacherace.report.trace import save
    from cacherace.servers import open_backend
    from cacherace.strategies.registry import load_strategy

    backend = open_backend("auto")
    try:
        for name, f in FINDINGS.items():
            if names and name not in names:
                continue
            cls = load_strategy(f.strategy)
            s = Scheduler(cls, backend.redis(cls.persistence), backend.postgres(), clients=2)
            try:
                trace = record_trace(s, f.strategy, f.claim, f.actions, tier=f.tier)
                if f.initial is not None:  # the same run from another initial database
                    history = run(s, f.actions, f.initial)
                    trace = replace(trace, history=history, verdict=check(f.claim, history))
            finally:
                s.close()
            assert trace.verdict.broken, (name, trace.verdict)
            path = save(trace, directory)
            path.rename(directory / f"{name}.json")
            print(name, "->", trace.verdict.reason)
    finally:
        backend.close()


if __name__ == "__main__":
    record(Path(sys.argv[1]), sys.argv[2:])
