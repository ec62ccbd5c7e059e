"""``cacherace doctor``: which ways to get servers work here, and how their crashes behave.

For each provider: is it available (binaries and versions, Docker, URLs)? Then,
for each available one: start Redis and PostgreSQL, write, crash, restart, and
report what survived under each Redis persistence profile, and whether a
committed PostgreSQL row survived. Exit 0 when at least one provider works.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from cacherace.cli.args import add_image_arguments
from cacherace.servers import (
    KINDS,
    PERSISTENCE_PROFILES,
    Availability,
    Backend,
    BackendError,
    open_backend,
)
from cacherace.servers.select import env_flag

DOCTOR_PREFIX = "cacherace:doctor:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        default="auto",
        choices=KINDS,
        help="check only this provider (default: check every provider)",
    )
    parser.add_argument("--redis-url", help="also check this Redis (needs --allow-destructive)")
    parser.add_argument(
        "--database-url", help="also check this PostgreSQL (needs --allow-destructive)"
    )
    parser.add_argument(
        "--allow-destructive",
        action="store_true",
        help="allow writing keys under 'cacherace:' and schema 'cacherace' on URL servers",
    )
    parser.add_argument(
        "--pg-user", help="user PostgreSQL runs as when we are root (default: postgres)"
    )
    add_image_arguments(parser)


def _probes(args: argparse.Namespace) -> dict[str, Callable[[], Availability]]:
    from cacherace.servers.containers import probe_containers
    from cacherace.servers.embedded import probe_embedded
    from cacherace.servers.local import probe_local
    from cacherace.servers.urls import probe_urls

    return {
        "local": lambda: probe_local(args.pg_user),
        "embedded": lambda: probe_embedded(args.pg_user),
        "container": lambda: probe_containers(args.redis_image, args.postgres_image),
        "url": lambda: probe_urls(args.redis_url, args.database_url),
    }


def _ms(ms: float) -> str:
    return f"{ms:.0f} ms"


def _exercise_crashable(backend: Backend, out: Callable[[str], None]) -> None:
    for profile in PERSISTENCE_PROFILES:
        r = backend.redis(profile)
        r.client().set("doctor", "acknowledged")
        r.crash()
        r.restart()
        kept = r.client().get("doctor") == "acknowledged"
        verdict = "kept" if kept else "gone"
        out(
            f"  redis {profile:<13} write, SIGKILL, restart: {verdict:<5} "
            f"(start {_ms(r.timings['start'])}, restart {_ms(r.timings['restart'])})"
        )
    pg = backend.postgres()
    with pg.connect() as conn:
        conn.execute("CREATE TABLE doctor (k text PRIMARY KEY, v text)")
        conn.execute("INSERT INTO doctor VALUES ('k', 'committed')")
    pg.crash()
    pg.restart()
    with pg.connect() as conn:
        row = conn.execute("SELECT v FROM doctor WHERE k = 'k'").fetchone()
    survived = "survived" if row == ("committed",) else "LOST"
    out(f"  {pg.version}: committed row after SIGKILL + restart: {survived}")
    out(f"  postgres timings: {_pg_timings(pg.timings)}")
    out(f"  per-example reset: {_reset_costs(backend)}")
    out(
        "  (aof-everysec keeps writes across a process crash: the AOF write reaches the OS "
        "before the reply; only a machine crash, never caused here, loses its last second)"
    )


def _pg_timings(t: dict[str, float]) -> str:
    """Whatever phases this provider has: initdb and copy (processes), start, recovery."""
    parts = []
    if "initdb" in t:
        parts.append(f"initdb {_ms(t['initdb'])}" if t["initdb"] else "initdb: cached template")
    if "copy" in t:
        parts.append(f"copy {_ms(t['copy'])}")
    parts += [f"start {_ms(t['start'])}", f"crash recovery {_ms(t['restart'])}"]
    return ", ".join(parts)


def _reset_costs(backend: Backend, rounds: int = 50) -> str:
    """What isolating one Hypothesis example costs: FLUSHALL; DELETE + INSERT of 5 rows."""
    with backend.redis("none").client() as c:
        t0 = time.perf_counter()
        for _ in range(rounds):
            c.flushall()
        redis_ms = (time.perf_counter() - t0) * 1000 / rounds
    with backend.postgres().connect() as conn:
        conn.execute("CREATE TABLE doctor_reset (k text PRIMARY KEY, v text)")
        t0 = time.perf_counter()
        for _ in range(rounds):
            with conn.transaction():
                conn.execute("DELETE FROM doctor_reset")
                conn.execute(
                    "INSERT INTO doctor_reset SELECT 'k' || i, 'v' FROM generate_series(1, 5) i"
                )
        pg_ms = (time.perf_counter() - t0) * 1000 / rounds
    return f"redis FLUSHALL {redis_ms:.2f} ms, postgres DELETE + INSERT 5 rows {pg_ms:.2f} ms"


def _exercise_url(backend: Backend, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    if args.redis_url:
        r = backend.redis("none")
        with r.client() as c:
            c.set(DOCTOR_PREFIX + "k", "v", ex=60)
            ok = c.get(DOCTOR_PREFIX + "k") == "v"
        r.reset(DOCTOR_PREFIX)
        out(f"  redis {r.version}: write+read {'ok' if ok else 'FAILED'}; crash faults: skipped")
    if args.database_url:
        pg = backend.postgres()
        with pg.connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS doctor (k text PRIMARY KEY)")
            conn.execute("INSERT INTO doctor VALUES ('k') ON CONFLICT DO NOTHING")
            ok = conn.execute("SELECT k FROM doctor").fetchone() == ("k",)
            conn.execute("DROP TABLE doctor")
        out(
            f"  {pg.version} (schema {pg.schema}): write+read {'ok' if ok else 'FAILED'}; "
            "crash faults: skipped"
        )


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    args.redis_url = args.redis_url or os.environ.get("CACHERACE_REDIS_URL")
    args.database_url = args.database_url or os.environ.get("CACHERACE_DATABASE_URL")
    args.allow_destructive = args.allow_destructive or env_flag("CACHERACE_ALLOW_DESTRUCTIVE")
    if args.backend == "url" and not (args.redis_url or args.database_url):
        print(
            "cacherace doctor: --backend url needs --redis-url and/or --database-url",
            file=sys.stderr,
        )
        return 2

    probes = _probes(args)
    names = list(probes) if args.backend == "auto" else [args.backend]
    out("providers:")
    available: list[str] = []
    failures: dict[str, str] = {}
    for name in names:
        a = probes[name]()
        if a.available:
            available.append(name)
            out(f"  {name:<10} available")
            for d in a.details:
                out(f"             {d}")
        else:
            failures[name] = a.reason
            out(f"  {name:<10} unavailable: {a.reason}")
            for d in a.details:
                out(f"             {d}")

    working: list[str] = []
    for name in available:
        out(f"\n{name}:")
        try:
            with open_backend(
                name,
                redis_url=args.redis_url,
                database_url=args.database_url,
                allow_destructive=args.allow_destructive,
                pg_user=args.pg_user,
                redis_image=args.redis_image,
                postgres_image=args.postgres_image,
            ) as backend:
                if name == "url":
                    _exercise_url(backend, args, out)
                else:
                    _exercise_crashable(backend, out)
        except BackendError as e:
            failures[name] = str(e)
            out(f"  FAILED: {e}")
            continue
        working.append(name)

    out("")
    if working:
        out(f"ok: working providers: {', '.join(working)}")
        return 0
    out("no provider works here:")
    for name, reason in failures.items():
        out(f"  {name}: {reason}")
    out(
        "fix: install redis-server and postgresql (apt-get install redis-server postgresql), "
        "or pip install 'cacherace[embedded]', or start Docker, or give --redis-url and "
        "--database-url with --allow-destructive"
    )
    return 1
