"""PostgreSQL as a child process: a copied template cluster, crashable and restartable.

initdb costs ~1 s, copying an initialised data directory ~0.1 s, so initdb runs
once per PostgreSQL build into a cached template, under a file lock so parallel
pytest-xdist workers do not race, and every server copies it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .base import BackendError, PostgresServer
from .process import ServerProcess, free_port
from .reaper import dir_prefix
from .redisproc import binary_version
from .spawned import Spawned

DEFAULT_PG_USER = "postgres"
TEMPLATE_FORMAT = 2  # bump when initdb's flags change, so old cached templates are not used
SUPERUSER = "postgres"  # the database role initdb creates, whoever runs the server

# Settings every disposable server runs with, and why:
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # the OS never crashes here, only the server: fsync only costs time
    "synchronous_commit": "on",  # off loses acknowledged commits on SIGKILL (measured)
    "full_page_writes": "off",  # torn pages need an OS crash, which we never cause
    "max_connections": "50",
    # PostgreSQL breaks a deadlock after deadlock_timeout of wall time; a run's own
    # processes deadlocking is found by the engine instead (a Wait that never ends),
    # so detection never depends on how fast a run goes.
    "deadlock_timeout": "1h",
    "shared_buffers": "16MB",
    "logging_collector": "off",
}


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account PostgreSQL runs as when the suite runs as root."""

    name: str
    uid: int
    gid: int


def resolve_run_as(pg_user: str | None = None) -> RunAs | None:
    """None when we are not root (the server runs as us); else the account to drop to."""
    if os.geteuid() != 0:
        return None
    name = pg_user or os.environ.get("CACHERACE_PG_USER") or DEFAULT_PG_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise BackendError(
            f"PostgreSQL refuses to run as root, so cacherace runs it as user {name!r}, "
            f"which does not exist here: create it (useradd --system {name}) or name another "
            "unprivileged user with CACHERACE_PG_USER=NAME / --pg-user NAME"
        ) from None
    if entry.pw_uid == 0:
        raise BackendError(
            f"user {name!r} is root, and PostgreSQL refuses to run as root: "
            "set CACHERACE_PG_USER / --pg-user to an unprivileged user"
        )
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def pg_version_label(version_line: str) -> str:
    """'postgres (PostgreSQL) 15.20 (Debian ...)' -> 'PostgreSQL 15.20'."""
    m = re.search(r"\(PostgreSQL\)\s+(\S+)", version_line)
    return f"PostgreSQL {m.group(1)}" if m else version_line


def cache_root() -> Path:
    env = os.environ.get("CACHERACE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cacherace"


def _chown_tree(path: Path, run_as: RunAs | None) -> None:
    if run_as is not None:
        os.chown(path, run_as.uid, run_as.gid)


def _copy_tree(src: Path, dst: Path) -> None:
    """cp -a: keeps ownership and modes (data dirs must be 0700 and the server's own)."""
    r = subprocess.run(["cp", "-a", str(src), str(dst)], capture_output=True, text=True)
    if r.returncode != 0:
        raise BackendError(f"copying {src} to {dst} failed: {r.stderr.strip()}; check disk space")


def template_dir(bindir: Path, version_line: str, run_as: RunAs | None) -> tuple[Path, float]:
    """The cached initialised data directory for this build; (path, initdb ms or 0)."""
    ident = f"{TEMPLATE_FORMAT}|{bindir.resolve()}|{version_line}|{run_as}"
    key = hashlib.sha1(ident.encode()).hexdigest()[:12]
    major = re.search(r"(\d+)", pg_version_label(version_line))
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"pg{major.group(1) if major else ''}-template-{key}"
    if (final / "PG_VERSION").exists():
        return final, 0.0
    with open(root / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one initdb; other workers wait, then reuse
        if (final / "PG_VERSION").exists():
            return final, 0.0
        t0 = time.perf_counter()
        # initdb runs as the unprivileged user, which may not reach our cache dir
        # (e.g. under /root): build in /tmp, then copy in and rename atomically.
        work = Path(tempfile.mkdtemp(prefix=dir_prefix("initdb")))
        try:
            _chown_tree(work, run_as)
            data = work / "data"
            cmd = [
                str(bindir / "initdb"),
                "-D", str(data),
                "-U", SUPERUSER,
                "-A", "trust",
                "-E", "UTF8",
                "--locale=C",
                "-N",  # no fsync: a template, rebuilt if lost
                "--wal-segsize=1",  # 1 MB WAL segments: 15 MB less to copy per server
            ]  # fmt: skip
            kw: dict[str, object] = {}
            if run_as is not None:
                kw = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=work, **kw)  # type: ignore[call-overload]
            if r.returncode != 0:
                raise BackendError(
                    f"initdb failed (exit {r.returncode}): {r.stderr.strip()[-800:]}; "
                    "check the PostgreSQL installation and that the user can write to /tmp"
                )
            staging = root / f".staging-{final.name}-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            _copy_tree(data, staging)
            os.rename(staging, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return final, (time.perf_counter() - t0) * 1000


class ProcessPostgres(Spawned, PostgresServer):
    """A PostgreSQL postmaster on 127.0.0.1, a free port, a copy of the template."""

    can_crash = True
    host = "127.0.0.1"
    label = "postgres"
    stop_signal = 2  # SIGINT = fast shutdown (SIGTERM would wait for clients)
    user = SUPERUSER
    dbname = "postgres"
    schema = None

    def __init__(self, bindir: Path, *, provider: str, run_as: RunAs | None) -> None:
        self.provider = provider
        self.timings = {}
        version_line = binary_version(bindir / "postgres")
        self.version = pg_version_label(version_line)
        template, initdb_ms = template_dir(bindir, version_line, run_as)
        self.timings["initdb"] = initdb_ms
        self.dir = Path(tempfile.mkdtemp(prefix=dir_prefix("pg")))
        _chown_tree(self.dir, run_as)
        self.data = self.dir / "data"
        t0 = time.perf_counter()
        _copy_tree(template, self.data)
        self.timings["copy"] = (time.perf_counter() - t0) * 1000
        self.port = free_port()
        argv = [str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(self.dir)}
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        run = (run_as.uid, run_as.gid) if run_as else None
        self._proc = ServerProcess(
            argv, log_path=self.dir / "postgres.log", cwd=self.dir, run_as=run
        )
        if run_as is not None:
            # the log is opened by us (root) before the switch; let the user read it too
            self._proc.log_path.touch()
            os.chown(self._proc.log_path, run_as.uid, run_as.gid)
        self._start("start")

    def _ready(self) -> bool:
        """postmaster.pid names our pid and says 'ready' (a stale file from a crash won't)."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0] == str(self._proc.pid) and lines[7].strip() == "ready"
