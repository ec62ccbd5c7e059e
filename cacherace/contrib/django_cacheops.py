"""django-cacheops: the Django ORM on psycopg 3 with cacheops' queryset cache, a
model mapped to the harness's items table.

cacheops caches a queryset's results under a hash of its SQL (``GET`` then, on a
miss, the query and a Lua script that ``SETEX``es the pickled rows and adds the
key to one "conj" set per condition, ``key=k1``). A ``save()`` invalidates with
another script that deletes every key in the matching conj sets; inside a
transaction the invalidation waits for the commit (cacheops' transaction
support, state kept in a ``threading.local``). ``lock=True`` elects one filler
per key (``SET NX`` of the cache key to ``LOCK``, waiters ``BRPOPLPUSH`` a signal
list); ``@cached_as(..., keep_fresh=True)`` first caches a marker key in the same
conj sets and stores the result only if the marker survived the call.

How it is set up (the few lines an application's settings would hold):
``settings.configure`` with the harness's PostgreSQL as Django's database and
``INSTALLED_APPS = ["cacheops", "cacherace"]``, the model in ``CACHEOPS`` with ``ops: get`` and
the settings' TTL as its timeout, keys under the settings' prefix
(``CACHEOPS_PREFIX``). Django settings are global, so every client shares them,
as the processes of one deployment share a settings file; the recipe points
them at the servers of the client being built. Each client opens its own
Django connection (Django keeps it in a ``threading.local``, per client here)
and, through ``CACHEOPS_CLIENT_CLASS`` (:class:`ProcessRedis`), its own
connection pool behind cacheops' one module-level Redis client: each client is
an application process of its own, and a crash closes both.

Django and cacheops make their thread-locals at import, so this module installs
cacherace's per-process kind first; importing Django before it is refused.

Rows absent: cacheops #478 (a "not found" cached after a concurrent create)
needs a key with no row. The explorers start every run with every row present,
so they never reach it; it is kept as a trace recorded from a written schedule
whose initial database lacks the row (``tests/contrib/schedules.py``).
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import redis as redis_py

from cacherace.contrib._connect import pg_options, redis_options
from cacherace.engine.drivers import clock, threads
from cacherace.errors import InvalidStrategy
from cacherace.strategies.base import TABLE, Settings, Strategy

if "django.db" in sys.modules and not threads.installed():
    raise InvalidStrategy(
        "django.db was imported before cacherace.contrib.django_cacheops: its connections"
        " would be one thread-local shared by every client; import the recipe first"
    )
# Before Django and cacheops build their module-level locals and bind random().
threads.install()
clock.install()

import django  # noqa: E402
from django.conf import settings as django_settings  # noqa: E402

#: The servers and prefix of the client being built: what the shared settings,
#: cacheops' prefix function and each client's Redis pool read.
_where: dict[str, Any] = {"redis": {}, "prefix": "cr:"}
_PROFILE: dict[str, Any] = {"ops": "get", "timeout": 300}

if django_settings.configured:
    raise InvalidStrategy(
        "Django is configured already; cacherace.contrib.django_cacheops configures it"
        " itself (its settings point at the harness's servers): run it in a process"
        " of its own"
    )
django_settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres"}},
    INSTALLED_APPS=["cacheops", "cacherace"],  # "cacherace": the app of the model below
    USE_TZ=True,
    CACHEOPS_REDIS={},
    CACHEOPS_CLIENT_CLASS=f"{__name__}.ProcessRedis",
    CACHEOPS_PREFIX=lambda query: _where["prefix"],
    CACHEOPS={"cacherace.item": _PROFILE},
)
django.setup()

import cacheops.getset  # noqa: E402
from cacheops import cached_as  # noqa: E402
from cacheops.conf import prepare_profiles  # noqa: E402
from cacheops.redis import is_redis_7  # noqa: E402
from django.db import connections, models  # noqa: E402

_pools = threading.local()  # per client (made after threads.install)
#: cacheops keys a ``@cached_as`` function by its module, name and first line
#: number unless its module sets this: the traces' keys then survive edits here.
CACHEOPS_DEBUG = True


def _lua(name: str) -> str:
    """A script of cacheops' as it runs on Redis 7+ (``cacheops.redis.load_script``)."""
    code = (Path(cacheops.__file__).parent / "lua" / f"{name}.lua").read_text()
    return re.sub(r"REDIS_4.*?/REDIS_4", "", code, flags=re.S)


def _inline(function: Any) -> str:
    return next(c for c in function.__code__.co_consts if isinstance(c, str) and "redis.call" in c)


# cacheops' Lua scripts by name, so diagrams say ``SCRIPT cache_thing`` rather than
# a SHA (``cacherace.report.steps.script_names`` reads module variables).
CACHE_THING = _lua("cache_thing")
INVALIDATE = _lua("invalidate")
LOCK = _inline(cacheops.getset._get_or_lock)
UNLOCK = _inline(cacheops.getset._release_lock)


class ProcessRedis(redis_py.Redis):
    """cacheops' module-level client (``CACHEOPS_CLIENT_CLASS``) whose connection
    pool is the calling client's own: one pool per application process."""

    @property  # type: ignore[override]
    def connection_pool(self) -> Any:
        pool = getattr(_pools, "pool", None)
        if pool is None:
            pool = _pools.pool = redis_py.ConnectionPool(**_where["redis"])
        return pool

    @connection_pool.setter
    def connection_pool(self, value: Any) -> None:
        pass  # the pool redis-py builds in __init__: each client makes its own above


class Item(models.Model):
    """The harness's items table (``key``, ``value``; ``version`` left to its default).
    CharFields, not TextFields: cacheops skips text fields in its conditions."""

    key = models.CharField(primary_key=True, max_length=200)
    value = models.CharField(max_length=200, null=True)

    class Meta:
        app_label = "cacherace"
        db_table = TABLE
        managed = False


def _point_at(redis: Any, db: Any, settings: Settings) -> None:
    """Point the shared settings at this client's servers (a no-op when unchanged)."""
    pg = pg_options(db)
    database = django_settings.DATABASES["default"]
    wanted = {"HOST": pg["host"], "PORT": pg["port"], "NAME": pg["dbname"],
              "USER": pg["user"], "PASSWORD": pg.get("password", "")}  # fmt: skip
    database.update(wanted)  # the dict Django's connection handler reads
    _where.update(redis=redis_options(redis), prefix=settings.prefix)
    Item._meta.db_table = settings.table
    if _PROFILE["timeout"] != int(settings.ttl):
        _PROFILE["timeout"] = int(settings.ttl)
        prepare_profiles.memory.clear()  # type: ignore[attr-defined]


class CacheopsGet(Strategy):
    """``Item.objects.get(key=...)`` cached automatically (``ops: get``); the write is
    ``update_or_create``, whose ``save()`` invalidates after its commit."""

    name: ClassVar[str] = "cacheops-get"
    claims: ClassVar[tuple[str, ...]] = ("fresh-after-ack", "converges", "no-aborted-reads")

    def __init__(self, redis: Any, db: Any, settings: Settings) -> None:
        super().__init__(redis, db, settings)
        _point_at(redis, db, settings)
        _pools.pool = redis_py.ConnectionPool(**redis_options(redis))
        connections["default"].ensure_connection()  # opened here, outside the schedule
        is_redis_7()  # cacheops asks INFO once per process: not in the first run's steps

    def read(self, key: str) -> str | None:
        try:
            return Item.objects.get(key=key).value  # type: ignore[no-any-return]
        except Item.DoesNotExist:
            return None

    def write(self, key: str, value: str) -> None:
        Item.objects.update_or_create(key=key, defaults={"value": value})


class CacheopsLocked(CacheopsGet):
    """The same with ``.cache(lock=True)``: one client fills a key, the others wait
    for its value (cacheops' dog-pile prevention)."""

    name: ClassVar[str] = "cacheops-locked"
    claims: ClassVar[tuple[str, ...]] = (*CacheopsGet.claims, "single-flight", "bounded-wait")

    def read(self, key: str) -> str | None:
        try:
            return Item.objects.cache(lock=True).get(key=key).value  # type: ignore[no-any-return]
        except Item.DoesNotExist:
            return None


class CacheopsKeepFresh(CacheopsGet):
    """``@cached_as(Item.objects.filter(key=...), keep_fresh=True)`` around the value's
    query: the result is stored only if no invalidation ran during the call."""

    name: ClassVar[str] = "cacheops-keep-fresh"

    def read(self, key: str) -> str | None:
        rows = Item.objects.filter(key=key)

        @cached_as(rows, keep_fresh=True)
        def value_of(key: str) -> str | None:
            return rows.nocache().values_list("value", flat=True).first()  # type: ignore[no-any-return]

        return value_of(key)  # type: ignore[no-any-return]
