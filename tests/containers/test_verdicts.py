"""The verdict matrix on containers equals the local one: the same verdicts, the
same weakest tiers and the same minimal lengths (steps in the shrunk schedule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacherace.explore.cell import Budget, CellResult
from cacherace.explore.check import check_strategy
from cacherace.servers import Backend

pytestmark = pytest.mark.containers

# Enough to find every broken cell of both strategies (the default verify budget
# finds the same lengths); seeded, so both providers draw the same schedules.
BUDGET = Budget(max_examples=20, seed=0)


def matrix(results: list[CellResult]) -> list[tuple[str, str, str | None, int | None]]:
    return [(r.claim, r.verdict, r.tier, r.steps) for r in results]


@pytest.mark.parametrize("strategy", ["cache-aside", "write-behind-durable"])
def test_same_verdicts_as_local(
    strategy: str, container_backend: Backend, local_backend: Backend, tmp_path: Path
) -> None:
    local = check_strategy(local_backend, strategy, budget=BUDGET, trace_dir=tmp_path / "l")
    cont = check_strategy(container_backend, strategy, budget=BUDGET, trace_dir=tmp_path / "c")
    assert matrix(cont) == matrix(local)
    assert any(r.verdict == "broken" for r in local)  # not vacuous: a race is found on both
    # The same schedules were drawn and explored: the same examples and faults.
    assert [(r.examples, r.faults) for r in cont] == [(r.examples, r.faults) for r in local]
