"""The actions a schedule is made of: a small union of frozen dataclasses.

A schedule is a list of these; the explorers build them, the engine applies them
(:mod:`cacherace.explore.apply`), traces store them as JSON objects
(``{"do": "step", "process": "c0"}``) and replay reads them back. One name per
fault, shared by the action that injects it and the ``Fault`` event that records
it (``cache-crash`` in both); the names older traces used are read as aliases.

Adding an action: a dataclass here with its ``do`` name, a line in ``_KINDS``,
and its case in :func:`cacherace.explore.apply.apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from cacherace.errors import BadAction

# -- fault names: one each, for actions and Fault events ------------------------------
CLIENT_CRASH = "client-crash"
FAIL_BEFORE = "fail-before"
FAIL_AFTER = "fail-after"
EVICT = "evict"
CACHE_CRASH = "cache-crash"
CACHE_RESTART = "cache-restart"
DB_CRASH = "db-crash"
DB_RESTART = "db-restart"
CACHE_PAUSE = "cache-pause"
CACHE_RESUME = "cache-resume"
DB_PAUSE = "db-pause"
DB_RESUME = "db-resume"
CLIENT_TIMEOUT = "client-timeout"

#: Names traces written before one name per fault used for their actions.
ALIASES: dict[str, str] = {
    "crash-client": CLIENT_CRASH,
    "crash-cache": CACHE_CRASH,
    "restart-cache": CACHE_RESTART,
    "crash-db": DB_CRASH,
    "restart-db": DB_RESTART,
}


@dataclass(frozen=True, slots=True)
class Start:
    """Start an operation on an idle process (``f``: read, write or an actor's op)."""

    process: str
    f: str
    key: str | None = None
    value: str | None = None
    do: ClassVar[str] = "start"


@dataclass(frozen=True, slots=True)
class StepAction:
    """Let a busy process take exactly one driver call."""

    process: str
    do: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Finish:
    """Step a process until its operation ends (or it waits)."""

    process: str
    do: ClassVar[str] = "finish"


@dataclass(frozen=True, slots=True)
class Advance:
    """Move virtual time forward by ``seconds``."""

    seconds: float
    do: ClassVar[str] = "advance"


@dataclass(frozen=True, slots=True)
class ClientFault:
    """A fault on one process: its crash, its next driver call failing before or
    after it took effect, or its client's timeout firing on a call that waits for
    a paused server (``fault`` is one of the four names)."""

    fault: str
    process: str

    @property
    def do(self) -> str:  # type: ignore[override]
        return self.fault


@dataclass(frozen=True, slots=True)
class ServerFault:
    """A server crashes or restarts, or hangs (SIGSTOP / docker pause) and resumes
    (``fault``: cache-crash, cache-restart, db-crash, db-restart, cache-pause,
    cache-resume, db-pause, db-resume)."""

    fault: str

    @property
    def do(self) -> str:  # type: ignore[override]
        return self.fault


@dataclass(frozen=True, slots=True)
class Evict:
    """The cache drops ``key``'s entries (memory pressure)."""

    key: str
    do: ClassVar[str] = EVICT


@dataclass(frozen=True, slots=True)
class Deliver:
    """The invalidations Redis pushed to ``process``'s client-side cache arrive now
    (they are in flight until then: a cache hit serves what it holds)."""

    process: str
    do: ClassVar[str] = "deliver"


Action = Start | StepAction | Finish | Advance | ClientFault | ServerFault | Evict | Deliver

CLIENT_FAULTS = frozenset({CLIENT_CRASH, FAIL_BEFORE, FAIL_AFTER, CLIENT_TIMEOUT})
SERVER_FAULTS = frozenset({CACHE_CRASH, CACHE_RESTART, DB_CRASH, DB_RESTART,
                           CACHE_PAUSE, CACHE_RESUME, DB_PAUSE, DB_RESUME})  # fmt: skip
#: Faults that break something (restarts heal one), for tiers and reports.
SERVER_CRASHES = frozenset({CACHE_CRASH, DB_CRASH})
#: Hangs (Jepsen's "pause"): the server stops answering until it resumes.
SERVER_HANGS = frozenset({CACHE_PAUSE, DB_PAUSE})
FAULTS = CLIENT_FAULTS | SERVER_FAULTS | {EVICT}
HEALS = frozenset({CACHE_RESTART, DB_RESTART, CACHE_RESUME, DB_RESUME})

_SIMPLE: dict[str, type] = {"start": Start, "step": StepAction, "finish": Finish,
                            "advance": Advance, EVICT: Evict, "deliver": Deliver}  # fmt: skip
#: The fields each action's JSON form needs (for a trace's error messages).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("process", "f"),
    "step": ("process",),
    "finish": ("process",),
    "advance": ("seconds",),
    "deliver": ("process",),
    **dict.fromkeys(sorted(CLIENT_FAULTS), ("process",)),
    **dict.fromkeys(sorted(SERVER_FAULTS), ()),
    EVICT: ("key",),
}


def canonical(do: str) -> str:
    """The one name of an action (older traces' names mapped)."""
    return ALIASES.get(do, do)


def from_json(data: Mapping[str, Any]) -> Action:
    """An action from its JSON object; raises :class:`BadAction` naming what is wrong."""
    if not isinstance(data, Mapping) or not isinstance(data.get("do"), str):
        raise BadAction(f'not an action: {data!r}; an action looks like {{"do": "step", ...}}')
    do = canonical(data["do"])
    need = ACTION_FIELDS.get(do)
    if need is None:
        raise BadAction(f"unknown action {data['do']!r} (known: {', '.join(ACTION_FIELDS)})")
    missing = [f for f in need if f not in data]
    if missing:
        raise BadAction(f"action {dict(data)!r} lacks {', '.join(missing)}")
    try:
        if do in CLIENT_FAULTS:
            return ClientFault(do, str(data["process"]))
        if do in SERVER_FAULTS:
            return ServerFault(do)
        if do == "advance":
            return Advance(float(data["seconds"]))
        if do == "start":
            return Start(str(data["process"]), str(data["f"]), data.get("key"), data.get("value"))
        cls = _SIMPLE[do]
        return cls(**{f.name: data[f.name] for f in fields(cls)})  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise BadAction(f"action {dict(data)!r} is not valid: {exc}") from None


def to_json(action: Action) -> dict[str, Any]:
    """The JSON object a trace stores (``do`` first; ``None`` fields left out)."""
    out: dict[str, Any] = {"do": action.do}
    for f in fields(action):
        if f.name == "fault":
            continue
        value = getattr(action, f.name)
        if value is not None:
            out[f.name] = value
    return out


def process_of(action: Action) -> str | None:
    """The process an action names, if any."""
    return getattr(action, "process", None)
