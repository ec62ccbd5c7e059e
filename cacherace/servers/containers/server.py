"""One server in a container: crash = docker kill (SIGKILL of the container's init,
so of every process in it), restart = docker start (the data lives in the
container's own layer), pause = docker pause (the cgroup freezer). On the host
network the address survives a restart; on a bridge the mapped port may change,
so callers rebuild clients when (host, port) changed.

testcontainers.core.container.DockerContainer is used directly: the
testcontainers.redis / .postgres modules emit DeprecationWarnings (4.x), their
wait strategies sleep, and they would pull images without bound.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from ..base import BackendError, PostgresServer, RedisServer
from ..pgcluster import SERVER_SETTINGS
from ..process import free_port, wait_until
from ..reaper import OWNER_LABEL, Owner
from ..redisproc import REDIS_PROFILE_ARGS, redis_answers
from ..spawned import START_TIMEOUT_S
from .images import PG_DATA
from .pick import Chosen

BACKEND_LABEL = "org.cacherace.backend"  # one id per provider: what its close() removes


def _one_line(e: BaseException) -> str:
    text = getattr(e, "explanation", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())[:240]


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
        # docker-py takes a list (no shell quoting); testcontainers annotates str only.
        c = DockerContainer(self.chosen.image, command=command, env=env)  # type: ignore[arg-type]
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

    @property
    def paused(self) -> bool:
        try:
            return self._state() == "paused"
        except Exception:
            return False

    def pause(self) -> None:
        """Freeze every process in the container (cgroup freezer): a hang, not a crash.
        docker pause returns once the freezer reports the cgroup frozen."""
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
