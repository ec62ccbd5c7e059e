"""The claim registry: claim names (the CLI names) mapped to their checkers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from cacherace.errors import UnknownClaim
from cacherace.model import History, Verdict

Checker = Callable[[History], Verdict]


@dataclass(frozen=True)
class Claim:
    """A registered claim.

    ``end_state`` claims are decided only on a history that has an ``EndState``
    event (they answer unknown before). The others are invariants: they can be
    checked on every prefix of a growing history and answer holds (or unknown) on a
    prefix that shows no violation yet.
    """

    name: str
    check: Checker
    end_state: bool
    summary: str
    #: optional: how close a history came to breaking the claim (higher is closer);
    #: the state machine hands it to Hypothesis's targeted search, which then
    #: climbs towards a break that random generation alone rarely reaches.
    score: Callable[[History], float] | None = None


CLAIMS: dict[str, Claim] = {}


def claim(
    name: str,
    *,
    end_state: bool = False,
    summary: str,
    score: Callable[[History], float] | None = None,
) -> Callable[[Checker], Checker]:
    """Register the decorated checker as claim ``name``; returns it unchanged."""

    def register(check: Checker) -> Checker:
        old = CLAIMS.get(name)
        # Re-registering the same function (a module reloaded) is fine; two
        # different checkers under one name would make verdicts ambiguous.
        if old is not None and _origin(old.check) != _origin(check):
            raise ValueError(f"claim {name!r} is already registered by {_origin(old.check)}")
        CLAIMS[name] = Claim(name, check, end_state, summary, score)
        return check

    return register


def _origin(check: Checker) -> str:
    return f"{getattr(check, '__module__', '?')}.{getattr(check, '__qualname__', repr(check))}"


def get_claim(name: str) -> Claim:
    try:
        return CLAIMS[name]
    except KeyError:
        raise UnknownClaim(name, ", ".join(sorted(CLAIMS)) or "none registered") from None


def check(name: str, history: History) -> Verdict:
    """Check claim ``name`` on ``history``; the verdict carries that name."""
    verdict = get_claim(name).check(history)
    if verdict.claim != name:
        verdict = dataclasses.replace(verdict, claim=name)
    return verdict
