"""Failures of the harness itself are reported honestly, never as verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacherace.explore import hygiene
from cacherace.explore.apply import apply
from cacherace.explore.cell import Budget, explore_strategy
from cacherace.explore.check import Undrivable, check_strategy
from cacherace.explore.scope import Scope
from cacherace.model.actions import Finish, Start
from cacherace.servers import Backend
from tests.cli.helpers import backend_args, run_cli, skip_without_servers

from .conftest import MakeScheduler
from .strategies import BrokenThenBoom, GeneratorCache, LeavesTransactionOpen, NoDriver

HERE = Path(__file__).parent / "strategies.py"


@pytest.mark.parametrize("mode", ["exhaustive", "random"])
def test_harness_error_keeps_found_breaks(make_scheduler: MakeScheduler, mode: str) -> None:
    s = make_scheduler(BrokenThenBoom)
    budget = Budget(max_examples=20, mode=mode, scope=Scope(ops_per_client=1), shrink=False)
    got = {r.claim: r for r in explore_strategy(
        s, "broken-then-boom", ["fresh-after-ack", "no-aborted-reads"], budget,
        tiers=("concurrency",),
    )}  # fmt: skip
    assert got["fresh-after-ack"].verdict == "broken", got["fresh-after-ack"].reason
    r = got["no-aborted-reads"]
    assert r.verdict == "unknown" and r.harness_error is not None
    assert "Boom" in r.harness_error and "the write blew up" in r.harness_error
    assert "schedule" in r.harness_error  # which schedule hit it


def test_verify_exits_2_on_a_harness_error(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    r = run_cli(
        "verify", "--strategy", f"{HERE}:BrokenThenBoom", "--tier", "concurrency",
        "--max-examples", "5", "--quiet", "--trace-dir", str(tmp_path),
        *backend_args(request.config),
    )  # fmt: skip
    skip_without_servers(r)
    assert r.code == 2, r.out + r.err
    assert "BROKEN" in r.out and "ERROR" in r.out  # the break is kept, the error shown
    assert "the harness failed" in r.err


def test_a_generator_strategy_is_refused(cacherace_backend: Backend,
                                        request: pytest.FixtureRequest) -> None:  # fmt: skip
    with pytest.raises(Undrivable, match="is a generator"):
        check_strategy(cacherace_backend, GeneratorCache)
    r = run_cli("verify", "--strategy", f"{HERE}:GeneratorCache", *backend_args(request.config))
    assert r.code == 2 and len(r.err_lines) == 1 and "is a generator" in r.err, r.err


def test_nothing_reached_a_driver_is_a_warning(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(NoDriver)
    budget = Budget(max_examples=5, mode="both", scope=Scope(ops_per_client=1), shrink=False)
    [r] = explore_strategy(s, "no-driver", ["converges"], budget, tiers=("concurrency",))
    assert r.verdict == "holds"
    assert r.warnings and "nothing was checked" in r.warnings[0]


def test_open_transaction_is_ended_before_the_next_run(make_scheduler: MakeScheduler) -> None:
    # The hang: the next reset's DELETE waited on a row lock held by a client
    # connection left idle in transaction by the run before.
    s = make_scheduler(LeavesTransactionOpen)
    s.reset()
    apply(s, Start("c0", "write", "k1", "k1.1"))
    apply(s, Finish("c0"))
    assert not s.busy("c0")
    assert hygiene.end_run(s) == ["c0"]
    hygiene.reset(s)  # would wait forever on c0's row lock without end_run
    assert hygiene.end_run(s) == []


def test_strategy_leaving_a_transaction_open_is_explored_to_the_end(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(LeavesTransactionOpen)
    budget = Budget(mode="exhaustive", scope=Scope(ops_per_client=1))
    [r] = explore_strategy(s, "leaves-transaction-open", ["no-aborted-reads"], budget,
                           tiers=("concurrency",))  # fmt: skip
    assert r.harness_error is None, r.harness_error
    assert r.verdict == "holds" and r.complete and r.schedules > 0
