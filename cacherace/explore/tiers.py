"""Tiers: what a schedule may use, weakest first, and what a schedule needed.

``concurrency`` has only operations and steps; ``time`` adds virtual time
advances; ``faults`` adds client crashes, driver-call failures and evictions;
``crashes`` ("crashes and hangs") adds cache and database crashes and their
restarts, pauses and their resumes, and client timeouts on calls to a paused server. Both explorers
search tier by tier with these sets, and a verdict names the weakest tier whose
actions the (minimal) breaking schedule uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from cacherace.model.actions import (
    CLIENT_CRASH,
    CLIENT_TIMEOUT,
    EVICT,
    FAIL_AFTER,
    FAIL_BEFORE,
    HEALS,
    SERVER_CRASHES,
    SERVER_HANGS,
    Action,
    Advance,
    ClientFault,
    Evict,
    ServerFault,
)
from cacherace.strategies.base import Settings

TIERS = ("concurrency", "time", "faults", "crashes")
#: What each tier is called in words (``crashes`` keeps its name in traces and JSON).
TIER_TITLES = {"concurrency": "concurrency", "time": "time", "faults": "faults",
               "crashes": "crashes and hangs"}  # fmt: skip

#: The faults each tier adds (a tier may use its own and every weaker tier's).
TIER_FAULTS: dict[str, tuple[str, ...]] = {
    "concurrency": (),
    "time": (),
    "faults": (FAIL_AFTER, FAIL_BEFORE, CLIENT_CRASH, EVICT),
    "crashes": (*sorted(SERVER_CRASHES), *sorted(SERVER_HANGS), CLIENT_TIMEOUT),
}


def faults_up_to(tier: str) -> tuple[str, ...]:
    """Every fault a schedule of ``tier`` may use."""
    level = TIERS.index(tier)
    return tuple(f for t in TIERS[: level + 1] for f in TIER_FAULTS[t])


def time_steps(settings: Settings) -> list[float]:
    """Advances the random search draws: the strategy's delay, half a TTL, just
    past a TTL."""
    return sorted({float(settings.delay), settings.ttl / 2, settings.ttl + 1.0})


def significant_durations(strategy_cls: type, settings: Settings) -> list[float]:
    """Advances the systematic search tries: the strategy's delay (a delayed
    delete is due then), just past its TTL, and just past a lease time when the
    strategy has one (``lease_seconds``). Anything shorter than the smallest of
    these changes nothing a strategy of the catalog can observe."""
    found = {float(settings.delay), settings.ttl + 1.0}
    lease = getattr(strategy_cls, "lease_seconds", None)
    if isinstance(lease, int | float):
        found.add(float(lease) + 1.0)
    return sorted(found)


def is_fault(action: Action) -> bool:
    return isinstance(action, ClientFault | ServerFault | Evict)


def needed_tier(schedule: Sequence[Action]) -> str:
    """The weakest tier whose actions a (minimal) schedule uses: what the break
    needed, whichever tier's search happened to find it."""
    if any(isinstance(a, ServerFault) or getattr(a, "fault", None) == CLIENT_TIMEOUT
           for a in schedule):  # fmt: skip
        return "crashes"
    if any(is_fault(a) for a in schedule):
        return "faults"
    if any(isinstance(a, Advance) for a in schedule):
        return "time"
    return "concurrency"


def needed_faults(schedule: Sequence[Action]) -> list[str]:
    """The fault kinds a (minimal) schedule uses, in first-use order (restarts,
    which heal, left out)."""
    kinds: dict[str, None] = {}
    for action in schedule:
        if is_fault(action) and action.do not in HEALS:
            kinds[action.do] = None
    return list(kinds)
