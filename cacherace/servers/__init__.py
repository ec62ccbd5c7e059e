"""Real Redis and PostgreSQL servers on demand: local processes, pip-installed
binaries, containers, or URLs of servers someone else runs. One interface.

    with open_backend() as backend:
        r = backend.redis("aof-always")   # started on first use
        pg = backend.postgres()
        r.crash(); r.restart()
"""

from .base import (
    PERSISTENCE_PROFILES,
    BackendError,
    BackendUnavailable,
    CrashUnsupported,
    PostgresServer,
    RedisServer,
)
from .provider import Availability, Backend, Provider
from .select import KINDS, open_backend

__all__ = [
    "KINDS",
    "PERSISTENCE_PROFILES",
    "Availability",
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "CrashUnsupported",
    "PostgresServer",
    "Provider",
    "RedisServer",
    "open_backend",
]
