"""Traces as pytest regression tests, through pytester: the trace of a bug fails as
a ``holds`` test before the fix and passes after it, as a fixture call and as an
item collected from the ``cacherace_traces`` directory."""

from __future__ import annotations

import textwrap

import pytest

STRATEGY = textwrap.dedent(
    '''
    from cacherace.strategies import Strategy

    class MyCache(Strategy):
        """Fills the cache on a miss; a write updates the database{fix}."""
        claims = ("converges",)

        def read(self, key):
            cached = self.redis.get(self.settings.cache_key(key))
            if cached is not None:
                return cached
            row = self.db.execute(
                f"SELECT value FROM {{self.settings.table}} WHERE key = %s", (key,)
            ).fetchone()
            self.redis.set(self.settings.cache_key(key), row[0], ex=self.settings.ttl)
            return row[0]

        def write(self, key, value):
            self.db.execute(
                f"UPDATE {{self.settings.table}} SET value = %s WHERE key = %s", (value, key)
            )
            {write_tail}
    '''
)
BROKEN = STRATEGY.format(fix=" and never touches the cache", write_tail="pass")
# The fix: a write leaves no cached value behind it (database first, then the cache).
FIXED = STRATEGY.format(
    fix=", then overwrites the cache",
    write_tail="self.redis.set(self.settings.cache_key(key), value)",
)

FIND = """
def test_find(cacherace_check):
    cacherace_check("my_cache.py:MyCache", max_examples=100, tiers=("concurrency",))
"""

REGRESSION = """
import glob

def test_fixture_holds(cacherace_replay):
    [trace] = glob.glob("cacherace-traces/*.json")
    cacherace_replay(trace, expect="holds")

def test_fixture_still_broken(cacherace_replay):
    [trace] = glob.glob("cacherace-traces/*.json")
    cacherace_replay(trace, expect="broken")
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # a subprocess: the inner session starts and stops servers of its own
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_a_trace_fails_before_the_fix_and_passes_after(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_cache=BROKEN)
    pytester.makepyfile(test_find=FIND)
    found = _run(pytester, "test_find.py")
    found.assert_outcomes(failed=1)  # the bug, and its trace saved
    [trace] = (pytester.path / "cacherace-traces").glob("*.json")

    pytester.makeini("[pytest]\ncacherace_traces = cacherace-traces\n")
    pytester.makepyfile(test_regression=REGRESSION)
    before = _run(pytester, "test_regression.py", "cacherace-traces", "-rA")
    before.assert_outcomes(failed=2, passed=1)
    out = before.stdout.str()
    assert "PASSED test_regression.py::test_fixture_still_broken" in out
    assert "FAILED test_regression.py::test_fixture_holds" in out
    assert f"FAILED cacherace-traces/{trace.name}::replay[holds]" in out
    assert "expected my_cache.py:MyCache's claim converges to be holds" in out
    assert "the run followed the recorded history exactly" in out
    assert "this run: converges: BROKEN" in out

    pytester.makepyfile(my_cache=FIXED)
    after = _run(pytester, "test_regression.py", "cacherace-traces", "-rA")
    after.assert_outcomes(failed=1, passed=2)
    out = after.stdout.str()
    assert "PASSED test_regression.py::test_fixture_holds" in out
    assert f"PASSED cacherace-traces/{trace.name}::replay[holds]" in out
    assert "FAILED test_regression.py::test_fixture_still_broken" in out
    assert "the run left the recorded history" in out  # the fixed code ran otherwise
    assert "first difference at event #" in out
