"""``cacherace doctor``: exit 0 when a provider works (with what survives a crash under
each Redis persistence profile), 1 when none does (with the reason), 2 on bad arguments."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import run_cli

URL_ENV = ("CACHERACE_REDIS_URL", "CACHERACE_DATABASE_URL", "CACHERACE_ALLOW_DESTRUCTIVE")


@pytest.fixture(autouse=True)
def no_url_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the URLs a test passes count, not the ones the machine's environment has."""
    for name in URL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_local_provider_works_and_reports_persistence(no_leaked_servers: Path) -> None:
    r = run_cli("doctor", "--backend", "local")
    if r.code == 1 and re.search(r"^  local +unavailable", r.out, re.M):
        pytest.skip(r.out.splitlines()[1].strip())
    assert r.code == 0, r.out + r.err
    expected = {"none": "gone", "aof-everysec": "kept", "aof-always": "kept"}
    for profile, verdict in expected.items():
        assert re.search(
            rf"^  redis {profile} +write, SIGKILL, restart: {verdict} ", r.out, re.M
        ), (profile, r.out)
    assert re.search(r"^  PostgreSQL [\d.]+: committed row after SIGKILL \+ restart: survived$",
                     r.out, re.M), r.out  # fmt: skip
    assert r.out.rstrip().endswith("ok: working providers: local")


@pytest.mark.parametrize(
    "args",
    [["--backend", "no-such-provider"], ["--no-such-option"], ["--redis-url"]],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    r = run_cli("doctor", *args)
    assert r.code == 2 and r.out == ""
    assert "usage:" in r.err and "error:" in r.err


def test_url_backend_without_urls_exits_2() -> None:
    r = run_cli("doctor", "--backend", "url")
    assert (r.code, r.out) == (2, "")
    needs = "cacherace doctor: --backend url needs --redis-url and/or --database-url"
    assert r.err_lines == [needs]


@pytest.mark.parametrize(
    ("flag", "url", "reason"),
    [
        ("--redis-url", "redis://127.0.0.1:{port}/0", "cannot reach Redis at redis://127.0.0.1:{port}/0"),
        ("--database-url", "postgresql://cr@127.0.0.1:{port}/db",
         "cannot reach PostgreSQL at postgresql://cr@127.0.0.1:{port}/db"),
    ],
)  # fmt: skip
def test_unreachable_url_exits_1_with_the_reason(
    refusing_port: int, flag: str, url: str, reason: str
) -> None:
    url, reason = url.format(port=refusing_port), reason.format(port=refusing_port)
    r = run_cli("doctor", "--backend", "url", flag, url, "--allow-destructive")
    assert r.code == 1, r.out + r.err
    assert re.search(r"^  url +available", r.out, re.M)  # given, so it was tried
    _, _, verdict = r.out.partition("no provider works here:\n")
    assert verdict.startswith("  url: ") and reason in verdict.splitlines()[0], r.out
    assert "fix: " in verdict


def test_url_without_opt_in_exits_1_saying_how_to_opt_in(refusing_port: int) -> None:
    r = run_cli("doctor", "--backend", "url", "--redis-url", f"redis://127.0.0.1:{refusing_port}")
    assert r.code == 1, r.out + r.err
    _, _, verdict = r.out.partition("no provider works here:\n")
    assert "refusing to use servers given by URL" in verdict and "--allow-destructive" in verdict
