"""The local reaper: what a dead run left behind is removed by the next run.

testcontainers' reaper (Ryuk) is an image that cannot be pulled everywhere, and a
SIGKILLed run cleans up nothing. So every container is labelled with its owner
(boot, pid and the pid's start time: a recycled pid is not the same owner), and
every server directory carries its owner in its name. When a provider starts, it
removes containers and directories whose owner is no longer running, and never
those of a live run, such as another xdist worker.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OWNER_LABEL = "org.cacherace.owner"  # "host/boot-id/pid/start-time"
# Directory prefixes the local providers create, each followed by "<pid>.<start>-".
DIR_PREFIXES = ("cacherace-redis-", "cacherace-pg-", "cacherace-initdb-")
_DIR_OWNER = re.compile(r"^cacherace-(?:redis-[a-z-]+?|pg|initdb)-p(\d+)\.(\d+)-")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "?"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None if it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str
    pid: int
    start: int

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), _boot_id(), pid, start_time(pid) or 0)

    def label(self) -> str:
        return f"{self.host}/{self.boot}/{self.pid}/{self.start}"

    @classmethod
    def parse(cls, label: str) -> Owner | None:
        parts = label.split("/")
        if len(parts) != 4 or not (parts[2].isdigit() and parts[3].isdigit()):
            return None
        return cls(parts[0], parts[1], int(parts[2]), int(parts[3]))

    def dead(self) -> bool:
        """True only when we can tell: same host, and the owner's process is gone
        (or the machine rebooted since). Another host's run is never ours to judge."""
        me = Owner.me()
        if self.host != me.host:
            return False
        if self.boot != me.boot:
            return True
        return start_time(self.pid) != self.start


def dir_prefix(kind: str) -> str:
    """mkdtemp prefix for a server directory, e.g. 'cacherace-pg-p123.456-'."""
    me = Owner.me()
    return f"cacherace-{kind}-p{me.pid}.{me.start}-"


def sweep_dirs(root: Path | None = None) -> list[Path]:
    """Remove server directories whose owner process is gone; return what was removed.
    Directories named without an owner (older versions) are left alone."""
    root = root or Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        m = _DIR_OWNER.match(entry.name)
        if m is None or not entry.is_dir(follow_symlinks=False):
            continue
        if start_time(int(m.group(1))) == int(m.group(2)):
            continue  # its owner still runs (another xdist worker, another run)
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def labelled(client: Any, label: str) -> list[dict[str, Any]]:
    """Containers (running or not) carrying ``label`` ("key" or "key=value"), as the
    daemon lists them: one call, no per-container inspect that could race a removal."""
    return list(client.api.containers(all=True, filters={"label": label}))


def sweep_containers(client: Any) -> list[str]:
    """Remove containers labelled by a run that is no longer running; their ids."""
    removed: list[str] = []
    for c in labelled(client, OWNER_LABEL):
        owner = Owner.parse((c.get("Labels") or {}).get(OWNER_LABEL, ""))
        if owner is None or not owner.dead():
            continue
        with contextlib.suppress(Exception):  # removed meanwhile by someone else: fine
            client.api.remove_container(c["Id"], force=True, v=True)
            removed.append(c["Id"])
    return removed
