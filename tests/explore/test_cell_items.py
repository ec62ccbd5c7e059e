"""Cells as pytest items (``cacherace_cells`` + ``cacherace_verify``), spread by
pytest-xdist: a broken claim fails its item with the report, a holding one passes,
a harness error fails (never skips)."""

from __future__ import annotations

import textwrap

import pytest

from .test_honest import HERE

pytestmark = pytest.mark.servers

CELLS = textwrap.dedent(
    f"""
    import pytest
    from cacherace.explore.scope import Scope
    from cacherace.pytest_plugin import cacherace_cells

    CELLS = [
        *cacherace_cells(["cache-aside"], ["converges", "no-aborted-reads"]),
        *cacherace_cells(["{HERE}:BrokenThenBoom"], ["no-aborted-reads"]),
    ]

    @pytest.mark.parametrize("cell", CELLS)
    def test_cell(cacherace_verify, cell):
        cacherace_verify(cell, tiers=("concurrency",), scope=Scope(preemptions=1),
                         max_examples=5)
    """
)


def test_each_cell_is_an_item_judged_on_its_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cells=CELLS)
    # a subprocess with two xdist workers: each starts and stops servers of its own
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-rA")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "PASSED test_cells.py::test_cell[cache-aside--no-aborted-reads]" in out
    assert "FAILED test_cells.py::test_cell[cache-aside--converges]" in out
    assert "converges: BROKEN" in out and "replay: cacherace replay " in out
    assert "FAILED test_cells.py::test_cell[" in out and "BrokenThenBoom--no-aborted-reads]" in out
    assert "no-aborted-reads: the harness failed: HarnessError" in out
