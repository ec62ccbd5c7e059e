"""`cacherace images build` and `cacherace doctor --backend container`, end to end."""

from __future__ import annotations

import re

import pytest

from cacherace.servers import Backend
from tests.cli.helpers import run_cli

pytestmark = pytest.mark.containers


def test_images_build_tags_both_images(container_backend: Backend) -> None:
    # Cached layers: a rebuild from the same binaries is the same image, so the
    # servers other tests run meanwhile are not disturbed.
    r = run_cli("images", "build")
    assert r.code == 0, r.err
    assert re.search(r"^built cacherace/redis:\d+\.\d+-local: Redis \d", r.out, re.M), r.out
    assert re.search(r"^built cacherace/postgres:\d+-local: PostgreSQL \d", r.out, re.M), r.out


def test_images_without_an_action_is_a_usage_error() -> None:
    r = run_cli("images")
    assert r.code == 2
    assert r.err_lines == ["cacherace images: say what to do: cacherace images build"]


def test_doctor_container_exits_0_and_names_the_images(container_backend: Backend) -> None:
    r = run_cli("doctor", "--backend", "container")
    assert r.code == 0, r.out + r.err
    assert re.search(r"redis image: \S+ \(present\)", r.out), r.out
    assert re.search(r"postgres image: \S+ \(present\)", r.out), r.out
    assert "redis aof-always    write, SIGKILL, restart: kept" in r.out
    assert "committed row after SIGKILL + restart: survived" in r.out
    assert r.out.rstrip().endswith("ok: working providers: container")


def test_doctor_says_what_to_run_when_an_image_is_missing(container_backend: Backend) -> None:
    r = run_cli("doctor", "--backend", "container", "--postgres-image", "cacherace/none:0")
    assert r.code == 1
    assert "postgres image: cacherace/none:0 is not here; run `cacherace images build`" in r.out
    assert "FAILED: image cacherace/none:0 is not here and could not be pulled" in r.out
    assert "Traceback" not in r.out + r.err


def test_verify_with_a_missing_image_is_one_line(container_backend: Backend) -> None:
    r = run_cli("verify", "--backend", "container", "--redis-image", "cacherace/none:0",
                "--strategy", "cache-aside")  # fmt: skip
    assert r.code == 2
    assert len(r.err_lines) == 1, r.err
    assert "run `cacherace images build`" in r.err
