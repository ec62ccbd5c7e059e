"""Replay: re-run a saved schedule and say whether it reproduces.

Replay is one more way to choose a schedule: the trace's actions are applied to
freshly reset servers with the same strategy, settings, clients, keys and Redis
persistence; the new history is compared event by event with the saved one, and
the claim is checked again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cacherace.engine.drivers.calls import v1_step
from cacherace.engine.engine import Scheduler
from cacherace.errors import ReplayError
from cacherace.explore import apply as schedule
from cacherace.model.actions import Action, process_of
from cacherace.model.history import Event, History, Step
from cacherace.model.verdict import Verdict
from cacherace.report.trace import VERSION, Trace, settings_json
from cacherace.servers import Backend
from cacherace.strategies.registry import StrategyError, load_strategy_spec


@dataclass(frozen=True)
class ReplayResult:
    history: History
    verdict: Verdict
    same_history: bool
    same_verdict: bool
    first_difference: str | None
    #: Index of the first event where the replay departs from the trace (None: same).
    diverged_at: int | None = None

    @property
    def reproduced(self) -> bool:
        return self.same_history and self.same_verdict


# -- comparing ------------------------------------------------------------------------
# Server-chosen tokens that differ between runs of the same schedule and mean nothing
# to a claim; everything else (every step's result included) must match exactly.
_VOLATILE = [
    (re.compile(r"\b\d{10,}-\d+\b"), "<stream-id>"),  # Redis stream IDs carry wall-clock ms
    (re.compile(r"\b(process|transaction|pid|PID|backend) \d+"), r"\1 <n>"),  # PG deadlock text
    (re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-f:]+\]):\d+"), r"\1:<port>"),
    (re.compile(r"\bport \d+"), "port <n>"),  # a restarted server may listen elsewhere
]


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, repl in _VOLATILE:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def _event_json(e: Event) -> dict[str, Any]:
    return History(events=[e]).to_json()["events"][0]


def _brief(e: Event) -> str:
    data = _event_json(e)
    kind = data.pop("kind")
    data.pop("index")
    fields = ", ".join(f"{k}={v!r}" for k, v in data.items() if v not in (None, "", [], ()))
    return f"{kind}({fields})"


def first_difference(expected: History, actual: History, version: int = VERSION) -> str | None:
    """Where ``actual`` first departs from ``expected`` (None: the same history).

    Events are compared field by field, exactly, after masking server-chosen tokens
    (stream IDs, PostgreSQL process and transaction numbers, ports). ``version`` is
    the trace format ``expected`` was saved in: the steps of a version-1 trace carry
    no structure, so ``actual``'s steps are compared in the text version 1 built.
    """
    if version < 2:
        actual = History(actual.initial, actual.ttl, [_v1(e) for e in actual.events])
    if expected.initial != actual.initial:
        return f"initial database values differ: trace {expected.initial}, replay {actual.initial}"
    if expected.ttl != actual.ttl:
        return f"TTL differs: trace {expected.ttl}, replay {actual.ttl}"
    for a, b in zip(expected.events, actual.events, strict=False):
        ja, jb = _normalise(_event_json(a)), _normalise(_event_json(b))
        if ja != jb:
            fields = [k for k in ja.keys() | jb.keys() if ja.get(k) != jb.get(k)]
            return (
                f"event #{a.index} differs in {', '.join(sorted(fields))}:\n"
                f"  trace:  {_brief(a)}\n  replay: {_brief(b)}"
            )
    n, m = len(expected.events), len(actual.events)
    if n > m:
        return (
            f"the replay ended after {m} events; the trace goes on with:\n  {_brief(expected[m])}"
        )
    if m > n:
        return f"the replay has {m - n} more events than the trace, from:\n  {_brief(actual[n])}"
    return None


def diverged_at(expected: History, actual: History, version: int = VERSION) -> int | None:
    """The index of the first event where ``actual`` departs from ``expected``
    (compared as :func:`first_difference` does); None when they are the same."""
    if first_difference(expected, actual, version) is None:
        return None
    if version < 2:
        actual = History(actual.initial, actual.ttl, [_v1(e) for e in actual.events])
    if expected.initial != actual.initial or expected.ttl != actual.ttl:
        return 0
    for i, (a, b) in enumerate(zip(expected.events, actual.events, strict=False)):
        if _normalise(_event_json(a)) != _normalise(_event_json(b)):
            return i
    return min(len(expected.events), len(actual.events))


def _v1(e: Event) -> Event:
    return v1_step(e) if isinstance(e, Step) else e


def same_verdict(expected: Verdict, actual: Verdict) -> bool:
    """Same status and the same witness events. The reason is prose a later version
    may word differently, so it is not compared."""
    return expected.status == actual.status and tuple(expected.witness) == tuple(actual.witness)


# -- running --------------------------------------------------------------------------
def _check_processes(trace: Trace, s: Scheduler) -> None:
    named = {process_of(schedule.as_action(a)) for a in trace.schedule}
    unknown = sorted({n for n in named if n is not None} - set(s.processes))
    if unknown:
        raise ReplayError(
            f"the trace's schedule drives {', '.join(unknown)}, but {trace.strategy} with "
            f"{trace.clients} clients has only {', '.join(s.processes)}; the trace does not "
            "match this strategy (was the strategy changed since it was saved?)"
        )


def replay_trace(trace: Trace, backend: Backend) -> ReplayResult:
    """Run ``trace``'s schedule on ``backend``'s servers (reset first) and compare.

    Raises ReplayError for a trace that does not fit its strategy or claim,
    BackendError when servers cannot be had, HarnessError when a step blocks.
    """
    from cacherace.properties import UnknownClaim, check, get_claim

    try:
        strategy_cls = load_strategy_spec(trace.strategy)
    except StrategyError as exc:
        raise ReplayError(f"cannot load the trace's strategy: {exc}") from None
    try:
        get_claim(trace.claim)
    except UnknownClaim as exc:
        raise ReplayError(
            f"{exc}; if it is a user's claim, import the module that registers it"
        ) from None
    redis_server = backend.redis(trace.persistence)
    pg_server = backend.postgres()
    for server in (redis_server, pg_server):
        if server.can_crash and not server.alive:
            server.restart()  # left crashed by an earlier run on a shared backend
    s = Scheduler(
        strategy_cls,
        redis_server,
        pg_server,
        clients=trace.clients,
        keys=tuple(trace.keys),
        settings=trace.strategy_settings(),
    )
    try:
        _check_processes(trace, s)
        try:
            history = schedule.run(s, trace.schedule, trace.history.initial)
        except schedule.BadAction as exc:
            raise ReplayError(str(exc)) from None
    finally:
        s.close()
    verdict = check(trace.claim, history)
    diff = first_difference(trace.history, history, trace.version)
    return ReplayResult(
        history=history,
        verdict=verdict,
        same_history=diff is None,
        same_verdict=same_verdict(trace.verdict, verdict),
        first_difference=diff,
        diverged_at=diverged_at(trace.history, history, trace.version),
    )


def record_trace(
    s: Scheduler,
    strategy: str,
    claim: str,
    actions: Sequence[Action | Mapping[str, Any]],
    *,
    tier: str | None = None,
) -> Trace:
    """Run ``actions`` on ``s`` exactly as replay will (reset, apply, settle), check
    ``claim`` and return the trace (unsaved).

    Build saved traces with this rather than from a history caught mid-run (an
    invariant that fired before teardown): then the saved history is the one a
    replay must produce, end state included.
    """
    from cacherace.properties import check

    history = schedule.run(s, actions)
    return Trace(
        strategy=strategy,
        claim=claim,
        schedule=[schedule.as_action(a) for a in actions],
        history=history,
        verdict=check(claim, history),
        settings=settings_json(s.settings),
        clients=len(s.clients),
        keys=list(s.keys),
        persistence=s.redis_server.persistence,
        tier=tier,
    )
