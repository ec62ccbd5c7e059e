"""Under CI=true a skipped container test fails the run; elsewhere it skips, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPING = """
import pytest

@pytest.mark.containers
def test_needs_docker():
    pytest.skip("no Docker daemon answered")

def test_other():
    pytest.skip("unrelated skip")
"""


@pytest.mark.parametrize(
    ("ci", "require", "failed", "skipped"),
    [("true", None, 1, 1), ("true", "0", 0, 2), ("", None, 0, 2)],
)
def test_skipped_container_tests_fail_only_under_ci(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ci: str,
    require: str | None,
    failed: int,
    skipped: int,
) -> None:
    monkeypatch.setenv("CI", ci)
    if require is None:
        monkeypatch.delenv("CACHERACE_REQUIRE_CONTAINERS", raising=False)
    else:
        monkeypatch.setenv("CACHERACE_REQUIRE_CONTAINERS", require)
    pytester.makeconftest("from tests.containers.conftest import pytest_runtest_makereport\n")
    pytester.makepyfile(SKIPPING)
    # A subprocess: an in-process session's teardown would close this session's servers.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(failed=failed, skipped=skipped)
    if failed:
        result.stdout.fnmatch_lines(
            ["*container test skipped under CI=true, which must run it: *no Docker daemon*"]
        )
