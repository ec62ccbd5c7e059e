"""What a provider is, and the Backend that starts its servers lazily and stops them all."""

from __future__ import annotations

import abc
import atexit
import contextlib
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from .base import PostgresServer, RedisServer, check_persistence


@dataclass
class Availability:
    """What ``doctor`` prints about a provider before starting anything."""

    name: str
    available: bool
    details: list[str] = field(default_factory=list)  # binaries + versions, daemon, URLs
    reason: str = ""  # when unavailable: the cause and the fix, one line


class Provider(abc.ABC):
    """A way to get servers. Construction checks it can work (else BackendUnavailable)."""

    name: str

    @abc.abstractmethod
    def redis(self, persistence: str) -> RedisServer: ...

    @abc.abstractmethod
    def postgres(self) -> PostgresServer: ...

    def close(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release provider-wide resources (e.g. a Docker client)."""


_OPEN: weakref.WeakSet[Backend] = weakref.WeakSet()


class Backend:
    """Servers from one provider: started on first use, one per persistence profile."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.name = provider.name
        self._redis: dict[str, RedisServer] = {}
        self._postgres: PostgresServer | None = None
        self._lock = threading.RLock()
        self._closed = False
        _OPEN.add(self)

    def redis(self, persistence: str = "none") -> RedisServer:
        check_persistence(persistence)
        with self._lock:
            self._check_open()
            server = self._redis.get(persistence)
            if server is None:
                server = self._redis[persistence] = self.provider.redis(persistence)
            return server

    def postgres(self) -> PostgresServer:
        with self._lock:
            self._check_open()
            if self._postgres is None:
                self._postgres = self.provider.postgres()
            return self._postgres

    @property
    def servers(self) -> list[RedisServer | PostgresServer]:
        """The servers started so far."""
        found: list[RedisServer | PostgresServer] = list(self._redis.values())
        if self._postgres is not None:
            found.append(self._postgres)
        return found

    def timings(self) -> dict[str, float]:
        """Milliseconds per phase, e.g. 'redis-none.start', 'postgres.copy'."""
        out: dict[str, float] = {}
        for p, r in self._redis.items():
            out.update({f"redis-{p}.{k}": v for k, v in r.timings.items()})
        if self._postgres is not None:
            out.update({f"postgres.{k}": v for k, v in self._postgres.timings.items()})
        return out

    def _check_open(self) -> None:
        if self._closed:
            from .base import BackendError

            raise BackendError("this Backend was closed; open a new one with open_backend()")

    def close(self) -> None:
        """Stop everything this backend started; idempotent, safe from atexit."""
        with self._lock:
            self._closed = True
            servers, self._redis, self._postgres = self.servers, {}, None
            errors: list[BaseException] = []
            for s in servers:
                try:
                    s.close()
                except Exception as e:  # keep closing the others
                    errors.append(e)
            self.provider.close()
            if errors:
                raise errors[0]

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Backend {self.name} servers={self.servers}>"


def close_all() -> None:
    for b in list(_OPEN):
        with contextlib.suppress(Exception):
            b.close()


atexit.register(close_all)
