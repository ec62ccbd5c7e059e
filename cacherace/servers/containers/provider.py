"""The container provider: Redis and PostgreSQL in Docker, through testcontainers.

By default each container runs on the host's network, bound to 127.0.0.1 on a
free port that we choose (no traffic leaves loopback, and a restart keeps the
address). ``CACHERACE_CONTAINER_NETWORK=bridge`` uses Docker's bridge with the
port mapped instead. Ryuk, testcontainers' reaper, is an image that cannot be
pulled everywhere: it is disabled, and the local reaper (servers/reaper.py)
removes a dead run's containers when the next run starts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any

from ..base import BackendError, BackendUnavailable, PostgresServer, RedisServer
from ..provider import Availability, Provider
from ..reaper import labelled, sweep_containers
from .pick import choose, describe
from .server import BACKEND_LABEL, ContainerPostgres, ContainerRedis, docker_errors

DOCKER_TIMEOUT_S = 10
NETWORKS = ("host", "bridge")
NETWORK_ENV = "CACHERACE_CONTAINER_NETWORK"


def docker_client(timeout: int = DOCKER_TIMEOUT_S) -> Any:
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
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, OSError) as e:
        raise BackendUnavailable(
            f"no Docker daemon answered at {where}; start Docker or use --backend local"
        ) from e
    return client


def _disable_ryuk() -> None:
    """Ryuk's image cannot be pulled here; our reaper replaces it (unless the user
    explicitly asked for Ryuk with TESTCONTAINERS_RYUK_DISABLED=false)."""
    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True


def container_network(network: str | None = None) -> str:
    network = network or os.environ.get(NETWORK_ENV) or "host"
    if network not in NETWORKS:
        raise BackendError(
            f"{NETWORK_ENV}={network} is not a network mode cacherace knows; use host or bridge"
        )
    return network


class ContainerProvider(Provider):
    name = "container"

    def __init__(
        self,
        redis_image: str | None = None,
        postgres_image: str | None = None,
        network: str | None = None,
    ) -> None:
        self.network = container_network(network)
        self.id = uuid.uuid4().hex  # labels this backend's containers
        self.client = docker_client()
        _disable_ryuk()
        with docker_errors("sweep containers left by dead runs"):
            self.swept = sweep_containers(self.client)
        with docker_errors("look up images"):
            self.images = {
                "redis": choose(self.client, "redis", redis_image),
                "postgres": choose(self.client, "postgres", postgres_image),
            }

    def redis(self, persistence: str) -> RedisServer:
        return ContainerRedis(persistence, self.images["redis"], self.network, self.id)

    def postgres(self) -> PostgresServer:
        return ContainerPostgres(self.images["postgres"], self.network, self.id)

    def close(self) -> None:
        """Remove every container this backend created, also one whose creation was
        interrupted before we learnt its id (Ctrl-C mid-request)."""
        with contextlib.suppress(Exception):  # the daemon went away: the next run sweeps
            for c in labelled(self.client, f"{BACKEND_LABEL}={self.id}"):
                self.client.api.remove_container(c["Id"], force=True, v=True)
        self.client.close()


def probe_containers(
    redis_image: str | None = None, postgres_image: str | None = None
) -> Availability:
    try:
        client = docker_client()
    except BackendUnavailable as e:
        return Availability("container", False, reason=str(e))
    try:
        with docker_errors("describe the daemon and its images"):
            version = client.version().get("Version", "?")
            lines = describe(client, {"redis": redis_image, "postgres": postgres_image})
    except BackendError as e:
        return Availability("container", False, reason=str(e))
    finally:
        client.close()
    # Available even when an image is missing: opening the backend tries one pull.
    return Availability(
        "container", True, details=[f"Docker {version}, network {container_network()}", *lines]
    )
