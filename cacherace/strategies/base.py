"""The protocol every strategy follows: ours in this package, a user's anywhere.

A strategy is ordinary application code. It is constructed once per client with
that client's own ``redis.Redis`` (``decode_responses=True``), its own
``psycopg.Connection`` (autocommit on) and the :class:`Settings`, and it offers
``read(key)`` and ``write(key, value)``. It knows nothing of schedules or faults.

Because a client crash or a database restart rebuilds the strategy object, state
that must outlive a client belongs in Redis or PostgreSQL, never in attributes.

The class-level hooks (``create_schema``, ``reset``, ``peek_cache``,
``peek_database``) are how the harness prepares a run and how checkers learn what
cache and database hold; they run outside the schedule, on the harness's own
connections. A strategy with its own schema overrides them.

Writing your own strategy
-------------------------
Subclass :class:`Strategy` (or write any class with the same constructor and
``read``/``write``), then run it with
``cacherace verify --strategy path/to/mod.py:MyStrategy`` or
``--strategy package.module:MyStrategy`` (see :mod:`cacherace.strategies.registry`).

- Steps: every redis-py / psycopg call is a step the harness may park a client
  at. Transactions are fine: a statement that waits for a row lock a parked
  client holds waits without stalling the run, and completes right after the
  step that releases the lock.
- Time: inside a scheduled operation ``time.time()``, ``time.monotonic()``,
  ``time.perf_counter()`` and ``datetime.now()`` read virtual time (as does
  ``settings.clock()``), and ``time.sleep(s)`` parks the client until the schedule
  wakes it, virtual time then jumping ``s`` ahead: no wall time passes. Locks that
  spin or block (redis-py's ``Lock``, ``threading.Lock``) let the others run while
  they wait. TTLs are given as ``ex=``.
- Async: a strategy whose ``read``/``write`` (and actors) are ``async def`` is
  built per client with a ``redis.asyncio.Redis`` (``decode_responses=True``) and
  a ``psycopg.AsyncConnection`` (autocommit) instead, and each of its operations
  runs on that client's own event loop, which cacherace owns: every awaited
  driver call is a step, exactly as its sync form is. ``asyncio.sleep``, timeouts
  and the loop's clock read virtual time; tasks an operation spawns take their
  steps as that client's. Tasks left running after an operation need
  ``background = True`` on the class: they run as the client's background actor
  ``cN.bg`` (see ``cacherace.engine.aio.background``). All operations are sync or
  all async; a generator or an async generator, or async code on a loop of its
  own (``asyncio.run`` inside ``read``), is refused with one error (see
  ``cacherace.engine.aio``).
- Libraries: a strategy may open its own clients (a library's region or pool,
  with its own ``decode_responses``); they belong to the client that opened them,
  and a client crash closes them. ``threading.local`` is per client. See
  ``cacherace.contrib`` for recipes.
- Background work: name the methods in ``actors``; each call does one bounded
  unit of work and returns how much it did (0 when idle).
- Keys: cache entries live at ``settings.cache_key(key)``; keep any other Redis
  key (queues, leases, counters) under ``settings.aux_key(name)`` so the
  harness's per-prefix reset removes it too.

Your own schema. The checkers compare what clients saw against the database's
committed value of each key and against the cache. They learn both only through
the class hooks, so a strategy whose data is not the catalog's
``key/value/version`` table overrides:

- ``create_schema(db, settings)``: create your tables (idempotent).
- ``reset(db, settings, initial)``: make the database hold exactly ``initial``
  (key -> value strings), e.g. DELETE then INSERT in your own layout.
- ``peek_database(db, settings, keys)``: for each key, the string value a
  correct read should return now (None when the key has no value), computed
  from your tables - e.g. ``SELECT payload->>'name' FROM users WHERE id = ...``.
  It must report exactly what ``read`` would return if the cache were empty.
- ``peek_cache(redis, settings, key)``: the value a read would be served from
  the cache right now (None: a read would miss), decoding any envelope
  (``version:value``, JSON, a hash) your cache entries use. Optional: without
  one, the settled cache is observed through your own ``read`` (a probe read
  that touched no database was served from the cache; see
  :mod:`cacherace.engine.observers.probe` for the trade-off).
- ``cache_keys(settings, key)``: the Redis keys holding that cached value, so an
  eviction fault removes the right thing. Optional: without one, an eviction
  removes the Redis keys that operations on that key changed.

The hooks run on the harness's own connections between steps, never inside a
schedule, so they may use as many statements as they like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

TABLE = "cacherace_items"


@dataclass(frozen=True)
class Settings:
    """What a strategy is configured with.

    ``clock`` returns seconds; the harness passes its virtual clock, so anything a
    strategy times (a delayed delete, a lease's expiry) counts in virtual time.
    """

    ttl: int = 300
    prefix: str = "cr:"
    table: str = TABLE
    clock: Callable[[], float] = field(default=time.time, compare=False)
    delay: float = 1.0  # seconds; the double-delete's second delete waits this long

    def cache_key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def aux_key(self, name: str) -> str:
        """A strategy's own Redis key (queue, lease, counter) under the same prefix,
        in a namespace (``#``) that cache keys of ordinary item keys do not use."""
        return f"{self.prefix}#{name}"


class Strategy:
    """Base class with the catalog schema (key text primary key, value text,
    version bigint). Subclasses set ``name``, ``claims`` and implement read/write."""

    name: ClassVar[str] = ""
    #: claim names this strategy asserts (see cacherace.properties)
    claims: ClassVar[tuple[str, ...]] = ()
    #: names of methods that are actor operations; each runs as one scheduled
    #: operation and returns how much work it did (0 when idle), so teardown can
    #: drain by running it until it returns 0.
    actors: ClassVar[tuple[str, ...]] = ()
    #: Redis persistence profile the strategy is designed for:
    #: "none", "aof-everysec" or "aof-always".
    persistence: ClassVar[str] = "none"

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        self.redis = redis
        self.db = db
        self.settings = settings

    # -- operations (scheduled) --------------------------------------------------
    def read(self, key: str) -> str | None:
        raise NotImplementedError

    def write(self, key: str, value: str) -> None:
        raise NotImplementedError

    # -- harness hooks (not scheduled) ---------------------------------------------
    @classmethod
    def create_schema(cls, db: Any, settings: Settings) -> None:
        """Create the tables the strategy needs (idempotent)."""
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {settings.table} "
            "(key text PRIMARY KEY, value text, version bigint NOT NULL DEFAULT 1)"
        )

    @classmethod
    def reset(cls, db: Any, settings: Settings, initial: Mapping[str, str]) -> None:
        """Make the database hold exactly ``initial`` (cache is flushed by the harness)."""
        db.execute(f"DELETE FROM {settings.table}")
        with db.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {settings.table} (key, value, version) VALUES (%s, %s, 1)",
                list(initial.items()),
            )

    @classmethod
    def peek_database(
        cls, db: Any, settings: Settings, keys: Sequence[str]
    ) -> dict[str, str | None]:
        """The committed value of each key (None: no row)."""
        if not keys:
            return {}
        # One placeholder per key: adapting a list for ``= ANY(%s)`` cost ~40 us.
        # (The engine reads this default straight through libpq after every
        # committing step: cacherace.engine.observers.peek.)
        marks = ", ".join(["%s"] * len(keys))
        rows = db.execute(
            f"SELECT key, value FROM {settings.table} WHERE key IN ({marks})",
            tuple(keys),
            prepare=True,
        ).fetchall()
        found = dict(rows)
        return {k: found.get(k) for k in keys}

    @classmethod
    def peek_cache(cls, redis: Any, settings: Settings, key: str) -> str | None:
        """The value a read would be served from the cache (None: nothing cached).
        Strategies that store envelopes (a version, a lease) decode them here."""
        value = redis.get(settings.cache_key(key))
        return None if value is None else str(value)

    @classmethod
    def cache_keys(cls, settings: Settings, key: str) -> list[str]:
        """Redis keys holding ``key``'s cached value (what an eviction removes)."""
        return [settings.cache_key(key)]
