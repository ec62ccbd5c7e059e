"""Verdicts: what a claim answers about a history."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    HOLDS = "holds"
    BROKEN = "broken"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A claim's answer. When broken, ``witness`` holds the indexes of the events
    that show it (the offending read first) and ``reason`` says it in one sentence."""

    claim: str
    status: Status
    reason: str = ""
    witness: tuple[int, ...] = field(default=())

    @property
    def broken(self) -> bool:
        return self.status is Status.BROKEN

    @classmethod
    def holds(cls, claim: str, reason: str = "") -> Verdict:
        return cls(claim, Status.HOLDS, reason)

    @classmethod
    def unknown(cls, claim: str, reason: str) -> Verdict:
        return cls(claim, Status.UNKNOWN, reason)

    @classmethod
    def broken_by(cls, claim: str, reason: str, *witness: int) -> Verdict:
        return cls(claim, Status.BROKEN, reason, tuple(witness))
