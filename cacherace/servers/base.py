"""The one interface every provider implements: a Redis server, a PostgreSQL server.

A provider decides where a server comes from (a local process, a pip-installed
binary, a container, a URL); everything above this module only sees these classes.
"""

from __future__ import annotations

import abc
import re
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cacherace.errors import BackendError, BackendUnavailable, CrashUnsupported  # noqa: F401

if TYPE_CHECKING:
    import psycopg

PERSISTENCE_PROFILES = ("none", "aof-everysec", "aof-always")


def check_persistence(persistence: str) -> None:
    if persistence not in PERSISTENCE_PROFILES:
        raise BackendError(
            f"unknown Redis persistence profile {persistence!r}; "
            f"use one of {', '.join(PERSISTENCE_PROFILES)}"
        )


def new_redis_client(host: str, port: int, **overrides: Any) -> redis.Redis:
    """A fresh client that fails at once on a dead server.

    redis-py 6+ retries with backoff by default; a crash fault must surface as an
    error on the very call that hit it, not seconds later, so retries are off.
    """
    kwargs: dict[str, Any] = {
        "host": host,
        "port": port,
        "decode_responses": True,
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
        "retry": Retry(NoBackoff(), 0),
    }
    kwargs.update(overrides)
    return redis.Redis(**kwargs)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for error messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class Server(abc.ABC):
    """What every server offers, whatever provides it: its address, and the
    lifecycle the faults use (crash = SIGKILL, restart on the same address and data)."""

    provider: str
    host: str
    port: int
    can_crash: bool
    version: str
    # Milliseconds per phase ("start", "restart", ...), for doctor and the README.
    timings: dict[str, float]

    @abc.abstractmethod
    def crash(self) -> None: ...

    @abc.abstractmethod
    def restart(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @property
    @abc.abstractmethod
    def alive(self) -> bool: ...

    def close(self) -> None:
        """Stop for good and release what the server held (temp dirs). Idempotent."""
        self.stop()

    # A hang (Jepsen's "pause"): the server keeps its connections and its data but
    # answers nothing until resume(). Only servers the suite owns can be paused.
    _paused: bool = False

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        raise self._not_ours("pause")

    def resume(self) -> None:
        raise self._not_ours("resume")

    def _not_ours(self, what: str) -> CrashUnsupported:
        return CrashUnsupported(
            f"{what} asked of a {self.provider} server, which the suite does not own; "
            "use --backend local, embedded or container for hang faults"
        )


class RedisServer(Server):
    persistence: str

    def client(self, **overrides: Any) -> redis.Redis:
        return new_redis_client(self.host, self.port, **overrides)

    def admin(self) -> redis.Redis:
        """A client kept for the harness's own resets: a new client per reset costs
        ~2 ms (redis-py's handshake and its package-metadata lookup), the FLUSHALL
        itself 0.1 ms. Rebuilt when the server's address changed (containers)."""
        cached = getattr(self, "_admin_client", None)
        if cached is not None and cached[0] == (self.host, self.port):
            return cached[1]
        client = self.client()
        self._admin_client = ((self.host, self.port), client)
        return client

    def reset(self, prefix: str) -> None:
        """Empty the cache between examples (disposable servers: everything)."""
        self.admin().flushall()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.provider} {self.version} "
            f"{self.host}:{self.port} persistence={self.persistence}>"
        )


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete only keys starting with ``prefix`` (SCAN + UNLINK): for shared servers."""
    if not prefix:
        raise BackendError(
            "refusing to reset a Redis server given by URL without a key prefix: "
            "pass the suite's prefix so only its own keys are deleted"
        )
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


class PostgresServer(Server):
    user: str
    dbname: str
    # The suite's own schema on a shared server (connections search it first);
    # None for disposable servers, where everything lives in "public".
    schema: str | None = None
    password: str | None = None

    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
        }
        if self.password:
            params["password"] = self.password
        if self.schema:
            params["options"] = f"-c search_path={self.schema}"
        return make_conninfo(**params)

    def connect(self, autocommit: bool = True, **overrides: Any) -> psycopg.Connection:
        import psycopg

        overrides.setdefault("connect_timeout", 2)
        return psycopg.connect(self.conninfo(), autocommit=autocommit, **overrides)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider} {self.version} {self.host}:{self.port}>"
