"""Redis as a child process of the suite (used by the local and embedded providers)."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path

from .base import BackendError, RedisServer, check_persistence
from .process import ServerProcess, free_port
from .reaper import dir_prefix
from .spawned import Spawned

# What each persistence profile means on the redis-server command line.
REDIS_PROFILE_ARGS: dict[str, list[str]] = {
    "none": ["--save", "", "--appendonly", "no"],
    "aof-everysec": ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
    "aof-always": ["--save", "", "--appendonly", "yes", "--appendfsync", "always"],
}


def binary_version(path: Path, run_as: tuple[int, int] | None = None) -> str:
    """First line of ``path --version``, run as ``run_as`` (uid, gid) when given."""
    kw: dict[str, object] = {}
    if run_as is not None:
        kw = {"user": run_as[0], "group": run_as[1], "extra_groups": []}
    try:
        out = subprocess.run(  # type: ignore[call-overload]
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True, **kw
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        who = f" as uid {run_as[0]}" if run_as else ""
        raise BackendError(
            f"{path} --version failed{who} ({e}); reinstall it, make it (and every directory "
            "above it) readable and executable by that user, or point to another binary"
        ) from e
    return out.strip().splitlines()[0] if out.strip() else ""


def redis_version_label(version_line: str) -> str:
    """'Redis server v=7.0.15 sha=...' -> 'Redis 7.0.15' (Valkey builds say Valkey)."""
    parts = version_line.split()
    name = parts[0] if parts else "Redis"
    ver = next((p[2:] for p in parts if p.startswith("v=")), "?")
    return f"{name} {ver}"


def redis_answers(port: int, host: str = "127.0.0.1") -> bool:
    """True once the server answers PING with PONG (not -LOADING while reading the AOF)."""
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class ProcessRedis(Spawned, RedisServer):
    """redis-server (or a compatible build) on 127.0.0.1, a free port, a temp dir."""

    can_crash = True
    host = "127.0.0.1"
    label = "redis-server"
    stop_signal = 15

    def __init__(self, binary: Path, persistence: str, *, provider: str, version: str) -> None:
        check_persistence(persistence)
        self.provider = provider
        self.persistence = persistence
        self.version = version
        self.timings = {}
        self.dir = Path(tempfile.mkdtemp(prefix=dir_prefix(f"redis-{persistence}")))
        self.port = free_port()
        argv = [
            str(binary),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--protected-mode", "no",
            "--logfile", "",
            *REDIS_PROFILE_ARGS[persistence],
        ]  # fmt: skip
        self._proc = ServerProcess(argv, log_path=self.dir / "redis.log", cwd=self.dir)
        self._start("start")

    def _ready(self) -> bool:
        return redis_answers(self.port)
