"""What cacherace cannot drive is refused with one line (exit 2); what it can -
an async strategy - is accepted by the same entry points, and explored."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from cacherace.contrib.async_cache_aside import AsyncCacheAside
from cacherace.engine.aio import Undrivable, undrivable
from cacherace.explore.cell import Budget
from cacherace.explore.check import check_strategy
from cacherace.servers import Backend
from tests.cli.helpers import backend_args, run_cli, skip_without_servers

HERE = Path(__file__)


class AsyncGenerator(AsyncCacheAside):
    name: ClassVar[str] = "async-generator"

    async def read(self, key: str) -> Any:  # type: ignore[override]
        yield None


class HalfAsync(AsyncCacheAside):
    name: ClassVar[str] = "half-async"

    def write(self, key: str, value: str) -> None:  # type: ignore[override]
        return None


def test_what_cannot_be_driven_is_named() -> None:
    assert undrivable(AsyncCacheAside) is None
    assert "is an async generator" in (undrivable(AsyncGenerator) or "")
    assert "read async def but write not" in (undrivable(HalfAsync) or "")


@pytest.mark.parametrize("cls", ["AsyncGenerator", "HalfAsync"])
def test_verify_refuses_in_one_line(cls: str, request: pytest.FixtureRequest) -> None:
    r = run_cli("verify", "--strategy", f"{HERE}:{cls}", *backend_args(request.config))
    assert r.code == 2 and len(r.err_lines) == 1 and cls in r.err, r.err


def test_check_strategy_refuses_and_accepts(cacherace_backend: Backend, tmp_path: Path) -> None:
    with pytest.raises(Undrivable):
        check_strategy(cacherace_backend, HalfAsync)
    [r] = check_strategy(cacherace_backend, AsyncCacheAside, ["converges"], trace_dir=tmp_path,
                         budget=Budget(mode="exhaustive"), tiers=["concurrency"])  # fmt: skip
    assert r.verdict == "broken", r.reason


def test_verify_explores_an_async_strategy(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    spec = "cacherace.contrib.async_cache_aside:AsyncCacheAside"
    r = run_cli("verify", "--strategy", spec, "--claim", "converges", "--tier", "concurrency",
                "--quiet", "--trace-dir", str(tmp_path), *backend_args(request.config))  # fmt: skip
    skip_without_servers(r)
    assert r.code == 1 and "BROKEN" in r.out, r.out + r.err
