"""Small readers of histories for the engine's tests."""

from __future__ import annotations

from typing import Any, TypeVar

from cacherace.engine.drivers.calls import v1_step
from cacherace.model.history import Complete, Event, History, Step

E = TypeVar("E")


def of(history: History, cls: type[E]) -> list[E]:
    """The events of one kind, in order."""
    return [e for e in history.events if isinstance(e, cls)]


def steps(history: History, process: str | None = None) -> list[Step]:
    """The steps, in the one-line text these tests were written against (trace
    format version 1: SQL parameters after the statement, rows as a repr)."""
    return [v1_step(e) for e in of(history, Step) if process is None or e.process == process]


def commands(history: History, process: str | None = None) -> list[str]:
    return [e.command for e in steps(history, process)]


def completes(history: History, process: str | None = None) -> list[Complete]:
    return [e for e in of(history, Complete) if process is None or e.process == process]


def kinds(history: History) -> list[str]:
    return [e.kind for e in history.events]


def after(history: History, event: Event) -> list[Event]:
    """Every event recorded after ``event``."""
    return history.events[event.index + 1 :]


def summary(step: Step) -> tuple[str, str, tuple[str, ...], str, Any]:
    return (step.target, step.command, step.keys, step.result, step.error)
