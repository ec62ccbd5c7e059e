"""Container tests: real Docker, the images `cacherace images build` makes.

They skip, saying why, only where Docker cannot run. Under CI=true (which
``.ci/run`` sets, after installing and starting Docker) a skipped container test
fails the run instead: CI must really run them. CACHERACE_REQUIRE_CONTAINERS=0
lifts that, for a CI runner that cannot run Docker at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from cacherace.servers import Backend, BackendUnavailable, open_backend
from cacherace.servers.select import env_flag


def containers_required() -> bool:
    if os.environ.get("CACHERACE_REQUIRE_CONTAINERS", "").strip() == "0":
        return False
    return env_flag("CI")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("containers") and containers_required():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"container test skipped under CI=true, which must run it: {reason} "
            "(.ci/run installs and starts Docker and runs `cacherace images build`; "
            "CACHERACE_REQUIRE_CONTAINERS=0 allows the skip where Docker cannot run)"
        )


@pytest.fixture(scope="session")
def container_backend() -> Iterator[Backend]:
    try:
        backend = open_backend("container")
    except BackendUnavailable as e:
        pytest.skip(f"Docker cannot run the container provider here: {' '.join(str(e).split())}")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def local_backend() -> Iterator[Backend]:
    try:
        backend = open_backend("local")
    except BackendUnavailable as e:
        pytest.skip(f"needs local servers to compare with: {e}")
    yield backend
    backend.close()
