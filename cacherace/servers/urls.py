"""The url provider: servers someone else runs. No crashes; only our prefix/schema is touched."""

from __future__ import annotations

from typing import Any

import redis

from .base import (
    BackendError,
    CrashUnsupported,
    PostgresServer,
    RedisServer,
    delete_prefix,
    mask_url,
    new_redis_client,
)
from .provider import Availability, Provider

SCHEMA = "cacherace"
CRASH_HINT = "tests needing crash faults skip; use --backend local for them"


def _no_crash(kind: str, url: str) -> CrashUnsupported:
    return CrashUnsupported(
        f"{kind} servers given by URL ({mask_url(url)}) cannot be crashed or restarted "
        f"by cacherace; {CRASH_HINT}"
    )


def _one_line(error: BaseException) -> str:
    """A driver's message on one line (libpq's span several)."""
    return " ".join(str(error).split())


class UrlRedis(RedisServer):
    provider = "url"
    can_crash = False

    def __init__(self, url: str, persistence: str) -> None:
        self.url = url
        self.persistence = persistence
        self.timings = {}
        # Parse host/port/db/password from the URL; keep our timeout and no-retry policy.
        pool_kwargs = redis.ConnectionPool.from_url(url).connection_kwargs
        self._kwargs: dict[str, Any] = {
            k: v
            for k, v in pool_kwargs.items()
            if k in ("host", "port", "db", "username", "password", "ssl")
        }
        self.host = str(pool_kwargs.get("host", "localhost"))
        self.port = int(pool_kwargs.get("port", 6379))
        try:
            with self.client() as c:
                info = c.info("server")
        except redis.RedisError as e:
            raise BackendError(
                f"cannot reach Redis at {mask_url(url)} ({_one_line(e)}); check the server "
                "runs and the URL (redis://[:password@]host:port/db), or drop --redis-url"
            ) from e
        name = "Valkey" if "valkey_version" in info else "Redis"
        self.version = f"{name} {info.get('valkey_version') or info.get('redis_version', '?')}"

    def client(self, **overrides: Any) -> redis.Redis:
        kwargs = {**self._kwargs, **overrides}
        host, port = kwargs.pop("host", self.host), kwargs.pop("port", self.port)
        return new_redis_client(host, port, **kwargs)

    def reset(self, prefix: str) -> None:
        """Delete only the suite's keys: this server is not ours to FLUSHALL."""
        delete_prefix(self.admin(), prefix)

    @property
    def alive(self) -> bool:
        try:
            with self.client() as c:
                return bool(c.ping())
        except redis.RedisError:
            return False

    def crash(self) -> None:
        raise _no_crash("Redis", self.url)

    def restart(self) -> None:
        raise _no_crash("Redis", self.url)

    def stop(self) -> None:
        """Nothing to stop: the server is someone else's."""


class UrlPostgres(PostgresServer):
    provider = "url"
    can_crash = False
    schema = SCHEMA

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        self.url = url
        self.timings = {}
        params = conninfo_to_dict(url)
        self.host = str(params.get("host") or "localhost")
        self.port = int(params.get("port") or 5432)
        self.user = str(params.get("user") or "")
        self.dbname = str(params.get("dbname") or self.user)
        self.password = str(params["password"]) if params.get("password") else None
        self._extra = {
            k: v
            for k, v in params.items()
            if k not in ("host", "port", "user", "dbname", "password", "options")
        }
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
                ver = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as e:
            raise BackendError(
                f"cannot reach PostgreSQL at {mask_url(url)} ({_one_line(e)}); check the "
                "server runs, the URL (postgresql://user:password@host:port/db) and that the "
                f"user may create schema {SCHEMA!r}, or drop --database-url"
            ) from e
        self.version = f"PostgreSQL {ver[0].split()[0] if ver else '?'}"

    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(super().conninfo(), **self._extra)

    @property
    def alive(self) -> bool:
        import psycopg

        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def crash(self) -> None:
        raise _no_crash("PostgreSQL", self.url)

    def restart(self) -> None:
        raise _no_crash("PostgreSQL", self.url)

    def stop(self) -> None:
        """Nothing to stop: the server is someone else's."""


class UrlProvider(Provider):
    name = "url"

    def __init__(self, redis_url: str | None, database_url: str | None) -> None:
        self.redis_url = redis_url
        self.database_url = database_url

    def redis(self, persistence: str) -> RedisServer:
        if not self.redis_url:
            raise BackendError("no Redis URL given; pass --redis-url or set CACHERACE_REDIS_URL")
        return UrlRedis(self.redis_url, persistence)

    def postgres(self) -> PostgresServer:
        if not self.database_url:
            raise BackendError(
                "no PostgreSQL URL given; pass --database-url or set CACHERACE_DATABASE_URL"
            )
        return UrlPostgres(self.database_url)


def probe_urls(redis_url: str | None, database_url: str | None) -> Availability:
    if not redis_url and not database_url:
        return Availability(
            "url", False, reason="no URLs given (--redis-url / --database-url or CACHERACE_*_URL)"
        )
    details = [f"redis: {mask_url(redis_url) if redis_url else '(none)'}"]
    details.append(f"postgres: {mask_url(database_url) if database_url else '(none)'}")
    return Availability("url", True, details=details)
