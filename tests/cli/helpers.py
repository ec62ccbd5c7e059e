"""Running ``cacherace`` in-process or as a subprocess, and finding servers it left behind."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cacherace.cli.main import main

#: What verify and replay say when no provider works here.
NO_SERVERS = "no way to get redis and postgresql servers"


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


def run_cli(*argv: str) -> CliResult:
    """``cacherace ARGV`` in this process; argparse's SystemExit becomes the exit code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_process(*argv: str, cwd: Path | None = None, timeout: float = 300) -> CliResult:
    """``cacherace ARGV`` in a fresh Python process (its own servers, its own exit)."""
    done = subprocess.run(
        [sys.executable, "-m", "cacherace.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def skip_without_servers(result: CliResult) -> None:
    if result.code == 2 and NO_SERVERS in result.err.lower():
        pytest.skip(" ".join(result.err.split()))


def backend_args(config: pytest.Config) -> list[str]:
    """The pytest session's server options (--cacherace-backend, URLs) as CLI options."""
    opt = config.getoption
    args = ["--backend", str(opt("--cacherace-backend"))]
    for flag, value in (
        ("--redis-url", opt("--redis-url")),
        ("--database-url", opt("--database-url")),
        ("--pg-user", opt("--pg-user")),
    ):
        if value:
            args += [flag, str(value)]
    if opt("--allow-destructive"):
        args.append("--allow-destructive")
    return args


def pids_under(root: Path) -> dict[int, str]:
    """Live (not zombie) processes working in, or started with a path under, ``root``:
    pid -> what it is."""
    needle = str(root).encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd").encode()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        state = stat.rsplit(")", 1)[1].split()[0]
        if (cwd.startswith(needle) or needle in cmdline) and state not in ("Z", "X"):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
            found[int(entry)] = f"pid {entry} ({state}): {command}"
    return found


def processes_under(root: Path) -> list[str]:
    """Live (not zombie) processes working in, or started with a path under, ``root``."""
    return list(pids_under(root).values())


@contextlib.contextmanager
def servers_reaped() -> Iterator[Path]:
    """Servers started inside the block (in this process or a child) are gone after it.

    Local and embedded servers live in temporary directories (redis-server works in
    its own, PostgreSQL in its data directory), so the block points the temporary
    directory - ``tempfile.tempdir`` here, ``TMPDIR`` for children - at a fresh one:
    a process still working there afterwards is a leak, never the machine's own Redis
    and PostgreSQL services nor another pytest-xdist worker's servers. The CLI kills
    and reaps every server (PostgreSQL backends included) before it returns or exits,
    so this is checked once, without waiting. Yields the directory.
    """
    root = Path(tempfile.mkdtemp(prefix="cacherace-cli-test-"))
    root.chmod(0o755)  # PostgreSQL may run as another user: it must reach its data dir
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(root)
    try:
        yield root
        left = processes_under(root)
        assert not left, f"servers left running: {left}"
        leftovers = sorted(str(p.relative_to(root)) for p in root.iterdir())
        assert not leftovers, f"temporary directories left behind: {leftovers}"
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(root, ignore_errors=True)
