"""The ends: of an operation, and of a run.

Finishing an operation: step a process until its operation ends, letting the
others go on while it waits. While a process waits (a spin, a
threading lock), the others go on in turn until it can; when nobody can,
time jumps to the next moment somebody could. Still nobody: the run is
stuck, which ``settling`` raises as :class:`Stuck` and a ``finish`` leaves
for later. A statement waiting for a row lock returns at once, as it always
did: settle's passes over the processes let its holder go on.

Settling a run: heal faults, run every in-flight operation to its end
(clients in order, then actors), drain the actors, and record what cache and
database hold as the ``EndState``.
"""

from __future__ import annotations

from typing import Any

from cacherace.engine.observers.probe import cache_keys, peeks_itself, probe
from cacherace.engine.runtime import State
from cacherace.engine.waiting import Stuck
from cacherace.errors import HarnessError
from cacherace.model.history import Complete, EndState

#: Bound on settle's passes over processes that wait for each other's locks.
MAX_SETTLE_PASSES = 100
#: Bound that keeps teardown finite on a strategy whose actors never run dry.
MAX_DRAIN_ROUNDS = 100


def settle(engine: Any) -> EndState:
    settled, reason = True, ""
    try:
        engine.nemesis.resume_all()
        engine.restart_cache()
        engine.restart_db()
        for _ in range(MAX_SETTLE_PASSES):
            for name in engine.processes:
                engine.run_to_end(name, settling=True)
            if not any(p.worker is not None for p in engine.processes.values()):
                break
        else:
            raise Stuck(engine.waiting.stuck())
        if engine.actors:
            drain(engine)
            # Delayed work (a double-delete's second delete) is due after the
            # strategy's delay: let that much virtual time pass, then drain again.
            engine.advance(engine.settings.delay)
            drain(engine)
        engine.invalidations.deliver_all()  # every push arrives in the end
    except HarnessError as exc:
        settled, reason = False, str(exc)
    fields = end_state(engine, reason)
    return engine.recorder.event(EndState, settled=settled and not fields["reason"]
                                 and engine.servers.cache_up and engine.servers.db_up,
                                 **fields)  # fmt: skip


def end_state(engine: Any, reason: str) -> dict[str, Any]:
    """What cache and database hold now, as the ``EndState`` fields."""
    s, cls, settings = engine.servers, engine.strategy_cls, engine.settings
    cache: dict[str, str | None] = {}
    db: dict[str, str | None] = {}
    expires: dict[str, float | None] = {}
    if s.cache_up and s.db_up:
        direct = peeks_itself(cls) or reason  # no probe reads on an unsettled run
        for k in engine.keys:
            names = cache_keys(engine, k)
            expires[k] = next((d for n in names if (d := engine.deadlines.get(n)) is not None),
                              None)  # fmt: skip
        for k in engine.keys:
            if direct:
                cache[k] = cls.peek_cache(s.admin_redis, settings, k)
            else:
                cache[k], why = probe(engine, k)
                reason = reason or why
        expires = {k: at for k, at in expires.items() if cache.get(k) is not None}
        db = cls.peek_database(s.admin_db, settings, engine.keys)
    else:
        reason = reason or "a server did not come back"
    return {"cache": cache, "db": dict(db), "reason": reason, "expires": expires}


def drain(engine: Any) -> None:
    """Run each actor until it reports no more work."""
    for actor in engine.actors:
        for _ in range(MAX_DRAIN_ROUNDS):
            engine.start(actor, actor)
            engine.run_to_end(actor)
            done = engine.history.events[-1]
            if not isinstance(done, Complete) or done.value in (None, "0", "False"):
                break
        else:
            raise HarnessError(f"actor {actor} still had work after {MAX_DRAIN_ROUNDS} rounds")


#: Bound that keeps an operation finite on a strategy that never ends one.
MAX_STEPS_PER_OP = 2_000


def run_to_end(engine: Any, p: Any, *, settling: bool = False) -> None:
    w = engine.waiting
    for _ in range(MAX_STEPS_PER_OP):
        if p.worker is None:
            return
        if w.can_go(p):
            engine._switch(p)
            continue
        if p.state is State.WAITING:
            return
        q = w.others(p)
        if q is not None:
            engine._switch(q)
        elif not (w.jump() or w.alone(p)):
            if settling:
                raise Stuck(w.stuck())
            return
    raise HarnessError(f"{p.name}'s {p.f} did not end within {MAX_STEPS_PER_OP} steps")
