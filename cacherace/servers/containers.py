"""The container provider: Redis and PostgreSQL in Docker, through testcontainers.

By default each container runs on the host's network, bound to 127.0.0.1 on a
free port that we choose (no traffic leaves loopback, and a restart keeps the
address). ``CACHERACE_CONTAINER_NETWORK=bridge`` uses Docker's bridge with the
port mapped instead; the mapped port may change on restart, so callers rebuild
clients when the address changes. crash is ``docker kill`` (SIGKILL of the
container's init, so of every process in it), restart ``docker start`` (the data
lives in the container's own layer), pause ``docker pause`` (the freezer).

Ryuk, testcontainers' reaper, is an image that cannot be pulled everywhere: it is
disabled, and the local reaper (reaper.py) removes a dead run's containers.
testcontainers.core.container.DockerContainer is used directly: the
testcontainers.redis / .postgres modules emit DeprecationWarnings (4.x), their
wait strategies sleep, and they would pull images without bound.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .base import BackendError, BackendUnavailable, PostgresServer, RedisServer
from .imagepick import Chosen, choose, describe
from .images import PG_DATA
from .pgcluster import SERVER_SETTINGS
from .process import free_port, wait_until
from .provider import Availability, Provider
from .reaper import OWNER_LABEL, Owner, labelled, sweep_containers
from .redisproc import REDIS_PROFILE_ARGS, redis_answers
from .spawned import START_TIMEOUT_S

DOCKER_TIMEOUT_S = 10
NETWORKS = ("host", "bridge")
NETWORK_ENV = "CACHERACE_CONTAINER_NETWORK"
BACKEND_LABEL = "org.cacherace.backend"  # one id per provider: what its close() removes


def _one_line(e: BaseException) -> str:
    text = getattr(e, "explanation", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())[:240]


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


@contextlib.contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Any failure talking to Docker becomes one BackendError line naming ``what``."""
    try:
        yield
    except BackendError:
        raise
    except Exception as e:  # docker.errors.*, requests' ConnectionError, socket errors
        raise BackendError(
            f"Docker failed to {what}: {_one_line(e)}; check that the daemon still runs "
            "(docker info) and rerun"
        ) from None


def _disable_ryuk() -> None:
    """Ryuk's image cannot be pulled here; our reaper replaces it (unless the user
    explicitly asked for Ryuk with TESTCONTAINERS_RYUK_DISABLED=false)."""
    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True


class _Watch:
    """Adapts a container to what wait_until needs (alive, logs, kill)."""

    def __init__(self, server: _ContainerServer) -> None:
        self.server = server

    @property
    def alive(self) -> bool:
        return self.server.alive

    @property
    def returncode(self) -> int | None:
        with contextlib.suppress(Exception):
            return int(self.server.wrapped.attrs["State"]["ExitCode"])
        return None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.server.wrapped.logs(tail=lines).decode(errors="replace")
        except Exception as e:
            return f"    (no log: {_one_line(e)})"
        return "\n".join("    " + x for x in text.splitlines()) or "    (empty)"

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.server.wrapped.kill()


class _ContainerServer:
    """crash/restart/pause/stop/close for one container; subclasses say how to wait."""

    provider = "container"
    can_crash = True
    inner_port: int
    chosen: Chosen
    network: str
    host: str
    port: int
    timings: dict[str, float]

    def _create(self, command: list[str], env: dict[str, str], backend_id: str) -> None:
        from testcontainers.core.container import DockerContainer

        self.timings = {}
        self.version = self.chosen.version
        c = DockerContainer(self.chosen.image, command=command, env=env)
        labels = {OWNER_LABEL: Owner.me().label(), BACKEND_LABEL: backend_id}
        if self.network == "host":
            # network= (not network_mode=) also stops testcontainers guessing one.
            c.with_kwargs(network="host", labels=labels)
        else:
            c.with_exposed_ports(self.inner_port).with_kwargs(labels=labels)
        self.container = c
        try:
            self._boot("start", first=True)
        except BaseException:  # not ready, or Ctrl-C while starting: nobody else owns it
            self.close()
            raise

    @property
    def wrapped(self) -> Any:
        return self.container.get_wrapped_container()

    def _boot(self, phase: str, first: bool) -> None:
        t0 = time.perf_counter()
        with docker_errors(f"start a container from {self.chosen.image}"):
            if first:
                self.container.start()
            else:
                self.wrapped.start()
            if self.network == "bridge":  # a restart may map another host port
                self.host = self.container.get_container_host_ip()
                self.port = int(self.container.get_exposed_port(self.inner_port))
        self._wait()
        self.timings[phase] = (time.perf_counter() - t0) * 1000

    def _wait(self) -> None:
        raise NotImplementedError

    def _state(self) -> str:
        w = self.wrapped
        w.reload()
        return str(w.status)

    @property
    def alive(self) -> bool:
        """Running or paused: the server process exists."""
        try:
            return self._state() in ("running", "paused")
        except Exception:
            return False

    def crash(self) -> None:
        with docker_errors(f"kill the {self.chosen.kind} container"):
            if self._state() == "paused":
                self.wrapped.unpause()  # SIGKILL is not delivered to frozen processes
            if self._state() == "running":
                self.wrapped.kill()  # SIGKILL to its init: every process in it dies
            self.wrapped.wait(condition="not-running", timeout=START_TIMEOUT_S)

    def restart(self) -> None:
        if self.alive:
            raise BackendError("the container is running; crash() or stop() it before restart()")
        self._boot("restart", first=False)

    def pause(self) -> None:
        """Freeze every process in the container (cgroup freezer): a hang, not a crash."""
        with docker_errors(f"pause the {self.chosen.kind} container"):
            if self._state() == "running":
                self.wrapped.pause()

    def resume(self) -> None:
        with docker_errors(f"unpause the {self.chosen.kind} container"):
            if self._state() == "paused":
                self.wrapped.unpause()

    def stop(self) -> None:
        with docker_errors(f"stop the {self.chosen.kind} container"):
            self.resume()
            if self.alive:
                self.wrapped.stop(timeout=10)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone (or daemon gone) is fine
            self.container.stop()  # testcontainers' stop removes the container


class ContainerRedis(_ContainerServer, RedisServer):
    inner_port = 6379

    def __init__(self, persistence: str, chosen: Chosen, network: str, backend_id: str) -> None:
        self.persistence = persistence
        self.chosen, self.network = chosen, network
        self.host = "127.0.0.1"
        self.port = free_port() if network == "host" else self.inner_port
        bind = "127.0.0.1" if network == "host" else "0.0.0.0"
        command = ["redis-server", "--dir", "/data", "--bind", bind, "--port", str(self.port),
                   "--protected-mode", "no", *REDIS_PROFILE_ARGS[persistence]]  # fmt: skip
        self._create(command, {}, backend_id)

    def _wait(self) -> None:
        wait_until(
            lambda: redis_answers(self.port, self.host),
            timeout=START_TIMEOUT_S,
            what=f"container {self.chosen.image}",
            proc=_Watch(self),
        )


class ContainerPostgres(_ContainerServer, PostgresServer):
    inner_port = 5432
    user = "postgres"
    dbname = "postgres"
    schema = None

    def __init__(self, chosen: Chosen, network: str, backend_id: str) -> None:
        self.chosen, self.network = chosen, network
        self.host = "127.0.0.1"
        self.port = free_port() if network == "host" else self.inner_port
        settings = {
            **SERVER_SETTINGS,
            "listen_addresses": "127.0.0.1" if network == "host" else "*",
            "unix_socket_directories": "/tmp",
        }
        command = ["postgres", "-D", PG_DATA, "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        # For the public image's entrypoint (initdb on first start); ours ignores it.
        self._create(command, {"POSTGRES_HOST_AUTH_METHOD": "trust"}, backend_id)

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.conninfo(), connect_timeout=1, autocommit=True) as c:
                c.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _wait(self) -> None:
        # The public image's init runs a socket-only server first; TCP answers after it.
        wait_until(
            self._ready,
            timeout=START_TIMEOUT_S * 2,
            what=f"container {self.chosen.image}",
            proc=_Watch(self),
        )


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
