"""Virtual TTLs: keys expire exactly when virtual time passes their deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from cacherace.engine.engine import Scheduler
from cacherace.engine.observers.expiry import roundest
from cacherace.model.history import TimeAdvance
from cacherace.strategies import Strategy
from cacherace.strategies.cache_aside import CacheAside

from .conftest import MakeScheduler
from .helpers import commands, of

CK = "crh:k1"
SET_WITH_TTL = "return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])"


def test_ttl_of_300s_expires_exactly_after_300_virtual_seconds(
    make_scheduler: MakeScheduler,
) -> None:
    s = make_scheduler(CacheAside, clients=1)
    h = s.reset()
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert commands(h)[-1] == "SET crh:k1 k1.0 EX 300"
    assert s.deadlines.get(CK) == 300.0

    assert s.advance(299.999) == ()
    assert s.admin_redis.get(CK) == "k1.0"
    assert s.advance(0.001) == ()  # exactly 300: Redis expires a key strictly after
    assert s.clock.now == 300.0
    assert s.admin_redis.get(CK) == "k1.0"
    assert s.advance(0.001) == (CK,)
    assert s.admin_redis.get(CK) is None
    last = of(h, TimeAdvance)[-1]
    assert (last.expired, last.delta, last.time) == ((CK,), 0.001, pytest.approx(300.001))
    assert [a.expired for a in of(h, TimeAdvance)] == [(), (), (CK,)]
    assert s.deadlines.get(CK) is None


def test_the_deadline_counts_from_when_the_ttl_was_set(make_scheduler: MakeScheduler) -> None:
    s = make_scheduler(CacheAside, clients=1)
    s.reset()
    s.advance(10)
    s.start("c0", "read", "k1")
    s.run_to_end("c0")
    assert s.advance(300) == ()  # now 310: the deadline itself
    assert s.advance(0.5) == (CK,)


class Ttls(Strategy):
    """Each read runs the TTL-changing calls named by its key (one step each)."""

    name: ClassVar[str] = "ttl-probe"

    def read(self, key: str) -> str | None:
        r, ck = self.redis, self.settings.cache_key("k1")
        calls: dict[str, Callable[[], Any]] = {
            "set-ex": lambda: r.set(ck, "a", ex=300),
            "set-px": lambda: r.set(ck, "a", px=1500),
            "setex": lambda: r.execute_command("SETEX", ck, 20, "a"),
            "set": lambda: r.set(ck, "b"),
            "set-nx": lambda: r.set(ck, "c", ex=5, nx=True),
            "expire": lambda: r.expire(ck, 50),
            "persist": lambda: r.persist(ck),
            "del": lambda: r.delete(ck),
            "script": lambda: r.eval(SET_WITH_TTL, 1, ck, "s", 120),
            "registered": lambda: r.register_script(SET_WITH_TTL)(keys=[ck], args=["s", 70]),
            "pipeline": lambda: _pipeline(r, ck, transaction=False),
            "multi": lambda: _pipeline(r, ck, transaction=True),
            "pipeline-expire": lambda: r.pipeline(transaction=False).expire(ck, 40).execute(),
            "getex": lambda: r.getex(ck, ex=33),
        }
        return str(calls[key]())


def _pipeline(r: Any, ck: str, transaction: bool) -> Any:
    with r.pipeline(transaction=transaction) as pipe:
        pipe.set(ck, "p", ex=60)
        pipe.get(ck)
        return pipe.execute()


def run(s: Scheduler, what: str) -> None:
    assert s.start("c0", "read", what)
    s.run_to_end("c0")


@pytest.fixture
def ttls(make_scheduler: MakeScheduler) -> Scheduler:
    s = make_scheduler(Ttls, clients=1)
    s.reset()
    return s


def test_set_without_ex_clears_the_ttl(ttls: Scheduler) -> None:
    run(ttls, "set-ex")
    assert ttls.deadlines.get(CK) == 300.0
    run(ttls, "set")
    assert ttls.deadlines.get(CK) is None and ttls.admin_redis.pttl(CK) == -1
    assert ttls.advance(1_000) == ()
    assert ttls.admin_redis.get(CK) == "b"


def test_set_nx_refused_keeps_the_deadline(ttls: Scheduler) -> None:
    run(ttls, "set-ex")
    run(ttls, "set-nx")  # refused: the key exists
    assert ttls.deadlines.get(CK) == 300.0


def test_px_setex_expire_persist_del(ttls: Scheduler) -> None:
    run(ttls, "set-px")
    assert ttls.deadlines.get(CK) == 1.5
    run(ttls, "setex")
    assert ttls.deadlines.get(CK) == 20.0
    ttls.advance(5)
    run(ttls, "expire")
    assert ttls.deadlines.get(CK) == 55.0
    run(ttls, "persist")
    assert ttls.deadlines.get(CK) is None and ttls.admin_redis.pttl(CK) == -1
    run(ttls, "expire")
    run(ttls, "del")
    assert ttls.deadlines.get(CK) is None
    run(ttls, "expire")  # no key: EXPIRE answers 0 and sets nothing
    assert ttls.deadlines.get(CK) is None


@pytest.mark.parametrize(("what", "ttl"), [("script", 120), ("registered", 70)])
def test_a_script_that_sets_a_ttl(ttls: Scheduler, what: str, ttl: int) -> None:
    ttls.advance(1)
    run(ttls, what)
    assert ttls.deadlines.get(CK) == 1 + ttl  # read back via PTTL, rounded to what was set
    assert ttls.advance(ttl) == ()
    assert ttls.admin_redis.get(CK) == "s"
    assert ttls.advance(0.001) == (CK,)
    assert ttls.admin_redis.exists(CK) == 0


@pytest.mark.parametrize("what", ["pipeline", "multi"])
def test_a_pipeline_with_set_ex(ttls: Scheduler, what: str) -> None:
    run(ttls, what)
    assert ttls.deadlines.get(CK) == 60.0
    assert ttls.advance(60) == ()
    assert ttls.advance(1) == (CK,)


def test_a_pipeline_of_one_expire(ttls: Scheduler) -> None:
    run(ttls, "set")
    run(ttls, "pipeline-expire")
    assert ttls.admin_redis.ttl(CK) == 40
    assert ttls.deadlines.get(CK) == 40.0


def test_getex_sets_a_deadline(ttls: Scheduler) -> None:
    run(ttls, "set")
    run(ttls, "getex")
    assert ttls.deadlines.get(CK) == 33.0


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (299_999, 300_002, 300_000),  # EX 300 read back a millisecond late
        (300_000, 300_000, 300_000),
        (1_499, 1_502, 1_500),  # PX 1500
        (1_233, 1_236, 1_233),  # no rounder value is consistent: keep what was read
        (0, 3, 0),
    ],
)
def test_roundest_ttl_consistent_with_the_reading(low: int, high: int, expected: int) -> None:
    assert roundest(low, high) == expected
