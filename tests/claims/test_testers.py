"""Test the testers: the whole pipeline (scheduler, state machine, claims) flags a
deliberately broken strategy and stays quiet on a correct one, through the
``cacherace_check`` fixture users call."""

from __future__ import annotations

import textwrap

import pytest

from cacherace.strategies import Strategy

ALL_CLAIMS = [
    "fresh-after-ack", "ttl-bounded", "converges", "durable", "no-aborted-reads",
    "read-your-writes", "monotonic-reads",
]  # fmt: skip


class DatabaseOnly(Strategy):
    """No cache at all: every read and write goes to PostgreSQL in one statement.
    Linearizable, so every claim must hold."""

    name = "database-only"
    claims = tuple(ALL_CLAIMS)

    def read(self, key: str) -> str | None:
        row = self.db.execute(
            f"SELECT value FROM {self.settings.table} WHERE key = %s", (key,)
        ).fetchone()
        return None if row is None else row[0]

    def write(self, key: str, value: str) -> None:
        self.db.execute(
            f"UPDATE {self.settings.table} SET value = %s, version = version + 1 WHERE key = %s",
            (value, key),
        )


#: converges compares the settled cache with the database: a strategy that caches
#: nothing leaves it nothing to compare (tested below), so it is not asked here.
DECIDABLE = [c for c in ALL_CLAIMS if c != "converges"]


def test_a_correct_strategy_holds_every_claim(cacherace_check) -> None:  # type: ignore[no-untyped-def]
    results = cacherace_check(DatabaseOnly, DECIDABLE, max_examples=30)
    assert {r.claim: r.verdict for r in results} == dict.fromkeys(DECIDABLE, "holds")
    assert all(r.examples >= 30 for r in results)


def test_a_claim_with_nothing_to_compare_is_unknown_never_holds(cacherace_backend) -> None:  # type: ignore[no-untyped-def]
    from cacherace.explore.cell import Budget
    from cacherace.explore.check import check_strategy

    (result,) = check_strategy(cacherace_backend, DatabaseOnly, ["converges"],
                               budget=Budget(max_examples=10, seed=0))  # fmt: skip
    assert (result.verdict, result.harness_error) == ("unknown", None)
    assert "nothing was cached" in result.reason


BROKEN_MODULE = textwrap.dedent(
    '''
    from cacherace.strategies import Strategy

    class NeverInvalidates(Strategy):
        """Fills the cache on a miss and never touches it on a write."""
        claims = ("converges",)

        def read(self, key):
            cached = self.redis.get(self.settings.cache_key(key))
            if cached is not None:
                return cached
            row = self.db.execute(
                f"SELECT value FROM {self.settings.table} WHERE key = %s", (key,)
            ).fetchone()
            self.redis.set(self.settings.cache_key(key), row[0], ex=self.settings.ttl)
            return row[0]

        def write(self, key, value):
            self.db.execute(
                f"UPDATE {self.settings.table} SET value = %s WHERE key = %s", (value, key)
            )

    def test_never_invalidates(cacherace_check):
        cacherace_check("strategy_under_test.py:NeverInvalidates", max_examples=100)
    '''
)


def test_a_broken_strategy_fails_with_diagram_and_replay_command(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(strategy_under_test=BROKEN_MODULE)
    pytester.makepyfile(
        test_it="from strategy_under_test import test_never_invalidates  # noqa: F401"
    )
    # a subprocess: the inner session starts and stops servers of its own
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "strategy_under_test.py")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "converges: BROKEN" in out
    assert "◀ BROKEN" in out  # the diagram, with the offending event marked
    assert "replay: cacherace replay " in out
    traces = list((pytester.path / "cacherace-traces").glob("*converges*.json"))
    assert len(traces) == 1


class TransactionalWrites(Strategy):
    """Cache-aside whose write holds the row lock across steps: UPDATE and the
    cache DELETE inside one transaction block. Concurrent writers wait for each
    other's locks while the holder is parked."""

    name = "transactional-writes"
    claims = ("converges", "durable")

    def read(self, key: str) -> str | None:
        cached = self.redis.get(self.settings.cache_key(key))
        if cached is not None:
            return str(cached)
        value = DatabaseOnly.read(self, key)  # type: ignore[arg-type]
        self.redis.set(self.settings.cache_key(key), value, ex=self.settings.ttl)
        return value

    def write(self, key: str, value: str) -> None:
        with self.db.transaction():
            self.db.execute(
                f"UPDATE {self.settings.table} SET value = %s WHERE key = %s", (value, key)
            )
            self.redis.delete(self.settings.cache_key(key))


def test_locks_held_across_steps_are_explored_not_aborted(cacherace_check) -> None:  # type: ignore[no-untyped-def]
    # Writers block on each other's row locks while parked; the run must go on
    # and decide each claim (the stale set still breaks converges; durable holds).
    with pytest.raises(pytest.fail.Exception) as failed:
        cacherace_check(TransactionalWrites, max_examples=60, tiers=("concurrency",))
    assert "converges: BROKEN" in str(failed.value)
    assert "could not run" not in str(failed.value)
