"""The container provider: pinned redis and postgres images through testcontainers.

Uses testcontainers.core.container.DockerContainer directly: the
testcontainers.redis / .postgres modules emit DeprecationWarnings (4.x) and
their wait strategies sleep; we poll the mapped port instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from .base import BackendError, BackendUnavailable, PostgresServer, RedisServer
from .process import wait_until
from .provider import Availability, Provider
from .redisproc import REDIS_PROFILE_ARGS, redis_answers
from .spawned import START_TIMEOUT_S

# Pinned so a run means the same thing everywhere; bump deliberately.
REDIS_IMAGE = "redis:7.2.5"
POSTGRES_IMAGE = "postgres:15.8"
DOCKER_TIMEOUT_S = 2


def docker_client() -> Any:
    """A Docker client that answered a ping, else BackendUnavailable (fast: no retries)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as e:  # docker comes with testcontainers
        raise BackendUnavailable(
            f"the docker package is missing ({e}); pip install testcontainers"
        ) from e
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=DOCKER_TIMEOUT_S)
        client.ping()
    except (DockerException, OSError) as e:
        raise BackendUnavailable(
            f"no Docker daemon answered at {where}; start Docker or use --backend local"
        ) from e
    return client


class _ContainerWatch:
    """Adapts a container to what wait_until needs (alive, logs, kill)."""

    def __init__(self, container: Any) -> None:
        self.container = container

    @property
    def alive(self) -> bool:
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        return bool(wrapped.status == "running")

    @property
    def returncode(self) -> int | None:
        return self.container.get_wrapped_container().attrs.get("State", {}).get("ExitCode")

    def log_tail(self, lines: int = 15) -> str:
        out, err = self.container.get_logs()
        text = (out or b"").decode(errors="replace") + (err or b"").decode(errors="replace")
        return "\n".join("    " + x for x in text.splitlines()[-lines:])

    def kill(self) -> None:
        self.container.get_wrapped_container().kill()


class _ContainerServer:
    """Shared crash/restart/stop for one container; subclasses say how to wait."""

    container: Any
    port: int
    inner_port: int
    timings: dict[str, float]

    def _boot(self, phase: str, first: bool) -> None:
        from testcontainers.core.container import DockerContainer

        t0 = time.perf_counter()
        if first:
            assert isinstance(self.container, DockerContainer)
            self.container.start()
        else:
            self.container.get_wrapped_container().start()
        # Restarting a container may map a new host port: callers rebuild clients.
        self.host = self.container.get_container_host_ip()
        self.port = int(self.container.get_exposed_port(self.inner_port))
        self._wait()
        self.timings[phase] = (time.perf_counter() - t0) * 1000

    def _wait(self) -> None:
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        try:
            return _ContainerWatch(self.container).alive
        except Exception:
            return False

    def crash(self) -> None:
        if self.alive:
            self.container.get_wrapped_container().kill()  # SIGKILL, nothing flushed

    def restart(self) -> None:
        if self.alive:
            raise BackendError("the container is running; crash() or stop() it before restart()")
        self._boot("restart", first=False)

    def stop(self) -> None:
        if self.alive:
            self.container.get_wrapped_container().stop(timeout=10)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone is fine
            self.container.stop()  # testcontainers' stop removes the container


class ContainerRedis(_ContainerServer, RedisServer):
    provider = "container"
    can_crash = True
    inner_port = 6379

    def __init__(self, persistence: str, client: Any) -> None:
        from testcontainers.core.container import DockerContainer

        self.persistence = persistence
        self.version = f"Redis {REDIS_IMAGE.split(':')[1]} (image {REDIS_IMAGE})"
        self.timings = {}
        args = " ".join(a if a else "''" for a in REDIS_PROFILE_ARGS[persistence])
        self.container = DockerContainer(
            REDIS_IMAGE, command=f"redis-server --protected-mode no {args}"
        ).with_exposed_ports(self.inner_port)
        self._boot("start", first=True)

    def _wait(self) -> None:
        wait_until(
            lambda: redis_answers(self.port, self.host),
            timeout=START_TIMEOUT_S,
            what=f"container {REDIS_IMAGE}",
            proc=_ContainerWatch(self.container),
        )


class ContainerPostgres(_ContainerServer, PostgresServer):
    provider = "container"
    can_crash = True
    inner_port = 5432
    user = "postgres"
    dbname = "postgres"
    schema = None

    def __init__(self, client: Any) -> None:
        from testcontainers.core.container import DockerContainer

        self.version = f"PostgreSQL {POSTGRES_IMAGE.split(':')[1]} (image {POSTGRES_IMAGE})"
        self.timings = {}
        self.container = (
            DockerContainer(
                POSTGRES_IMAGE,
                command="postgres -c fsync=off -c synchronous_commit=on -c full_page_writes=off",
            )
            .with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
            .with_exposed_ports(self.inner_port)
        )
        self._boot("start", first=True)

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.conninfo(), connect_timeout=1, autocommit=True) as c:
                c.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _wait(self) -> None:
        # The image's init runs a socket-only server first; TCP answers only after it.
        wait_until(
            self._ready,
            timeout=START_TIMEOUT_S * 2,
            what=f"container {POSTGRES_IMAGE}",
            proc=_ContainerWatch(self.container),
        )


class ContainerProvider(Provider):
    name = "container"

    def __init__(self) -> None:
        self.client = docker_client()

    def redis(self, persistence: str) -> RedisServer:
        return ContainerRedis(persistence, self.client)

    def postgres(self) -> PostgresServer:
        return ContainerPostgres(self.client)

    def close(self) -> None:
        self.client.close()


def probe_containers() -> Availability:
    try:
        client = docker_client()
    except BackendUnavailable as e:
        return Availability("container", False, reason=str(e))
    try:
        version = client.version().get("Version", "?")
    finally:
        client.close()
    return Availability(
        "container", True, details=[f"Docker {version}", f"images {REDIS_IMAGE}, {POSTGRES_IMAGE}"]
    )
