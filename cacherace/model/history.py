"""The history: every event of one run, totally ordered by ``index``.

Events are plain frozen dataclasses so histories can be built by hand in unit
tests and round-trip through JSON in traces. ``index`` is the position in the
history; ``time`` is virtual time (seconds) when the event happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal


class Outcome(StrEnum):
    """How an operation ended. ``info``: unknown whether its effects happened."""

    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Invoke:
    """A client or actor starts an operation (``f`` is ``read``, ``write`` or an actor's op)."""

    index: int
    time: float
    process: str
    op: int
    f: str
    key: str | None = None
    value: str | None = None
    kind: Literal["invoke"] = "invoke"


@dataclass(frozen=True, slots=True)
class Complete:
    """An operation ends. For a read, ``value`` is what it returned."""

    index: int
    time: float
    process: str
    op: int
    f: str
    key: str | None
    type: Outcome
    value: str | None = None
    error: str | None = None
    kind: Literal["complete"] = "complete"


@dataclass(frozen=True, slots=True)
class Step:
    """One driver call. ``target`` is ``redis`` or ``postgres``; ``result`` is compact text.

    ``injected`` names a driver-call fault applied to this step (``fail-before`` /
    ``fail-after``); ``error`` is what the caller saw, if it raised.

    Structure, kept as data for reports to render (None: not recorded, as in traces
    of format version 1, whose ``command`` packs SQL parameters in and whose
    ``result`` holds rows as text):

    - ``command``: the SQL statement alone, or the Redis command line as text;
    - ``args``: the SQL statement's parameters, or the Redis command's arguments
      (after its name; a pipeline's: each command's text), each as text;
    - ``rows``: the rows a SQL statement returned (``result`` then holds the
      server's status text, such as ``SELECT 1``); None when it returned none.
    """

    index: int
    time: float
    process: str
    op: int | None
    target: str
    command: str
    keys: tuple[str, ...] = ()
    result: str = ""
    error: str | None = None
    injected: str | None = None
    args: tuple[str, ...] | None = None
    rows: tuple[tuple[Any, ...], ...] | None = None
    kind: Literal["step"] = "step"


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault or its healing: ``cache-crash``, ``cache-restart``, ``db-crash``,
    ``db-restart``, ``cache-pause``, ``cache-resume``, ``db-pause``, ``db-resume``,
    ``client-crash``, ``client-timeout``, ``evict``, ``fail-before``, ``fail-after``."""

    index: int
    time: float
    fault: str
    process: str | None = None
    key: str | None = None
    detail: str = ""
    kind: Literal["fault"] = "fault"


@dataclass(frozen=True, slots=True)
class TimeAdvance:
    """Virtual time moved by ``delta`` to ``time``; ``expired`` keys were removed."""

    index: int
    time: float
    delta: float
    expired: tuple[str, ...] = ()
    kind: Literal["time"] = "time"


@dataclass(frozen=True, slots=True)
class DbChange:
    """A committed change of a key in the database (``value`` None: row deleted).

    ``step`` is the index of the step whose commit made it (None when the change was
    observed by the harness, e.g. after a database crash recovery).
    """

    index: int
    time: float
    key: str
    value: str | None
    step: int | None = None
    kind: Literal["db"] = "db"


@dataclass(frozen=True, slots=True)
class Delivery:
    """Invalidations reached ``process``'s client-side cache (redis-py's RESP3
    ``cache_config``) and removed what it held: the pushes for ``keys`` (``*``: all)
    Redis sent when they changed. (Pushes that found nothing cached are not recorded.)"""

    index: int
    time: float
    process: str
    keys: tuple[str, ...] = ()
    kind: Literal["delivery"] = "delivery"


@dataclass(frozen=True, slots=True)
class Wait:
    """A process waited: for a lock or lease another process held (``on`` names the
    holders, when known), or for something nobody could give it (``ended`` False: a
    deadlock or livelock, recorded when the harness found that no process could go
    on). ``since`` is the virtual time the wait began, ``time`` when it ended (or
    was given up); ``bound`` the longest the wait may take in virtual seconds, from
    the TTL of what it waited on plus one polling interval (None: no bound known);
    ``what`` says on what, in words.
    """

    index: int
    time: float
    process: str
    op: int | None
    what: str
    on: tuple[str, ...] = ()
    since: float = 0.0
    bound: float | None = None
    ended: bool = True
    kind: Literal["wait"] = "wait"


@dataclass(frozen=True, slots=True)
class EndState:
    """What cache and database hold once nothing is in flight and faults are healed.

    ``settled`` is False when teardown could not drain or heal everything (then
    end-state claims answer unknown). ``expires`` gives, for each key with a cached
    value, the virtual time its cache entry expires (None: it never does), so a
    claim can tell what a read made after the end would still be served.
    """

    index: int
    time: float
    cache: dict[str, str | None]
    db: dict[str, str | None]
    settled: bool = True
    reason: str = ""
    expires: dict[str, float | None] = field(default_factory=dict)
    kind: Literal["end"] = "end"


Event = Invoke | Complete | Step | Fault | TimeAdvance | DbChange | Delivery | Wait | EndState


def _positional(cls: type) -> Callable[..., Any]:
    """``cls(*values)`` for a frozen slotted dataclass given every field but ``kind``
    in order, for the harness's hot path: it fills the slots directly, where the
    generated ``__init__`` calls ``object.__setattr__`` once per field (half the cost
    of a step's event). The result is the same object: frozen, equal, hashable."""
    names = [f.name for f in fields(cls)]
    assert names[-1] == "kind" and "kind" not in names[:-1]
    args = ", ".join(names[:-1])
    body = "".join(f"    set_{n}(e, {n})\n" for n in names)
    src = f"def new({args}):\n    e = make(cls)\n{body}    return e\n"
    scope: dict[str, Any] = {"make": object.__new__, "cls": cls, "kind": fields(cls)[-1].default}
    scope.update({f"set_{n}": getattr(cls, n).__set__ for n in names})
    exec(src, scope)  # as dataclasses builds __init__
    return scope["new"]  # type: ignore[no-any-return]


#: Positional constructors (every field but ``kind``, in order) for the scheduler.
new_invoke = _positional(Invoke)
new_complete = _positional(Complete)
new_step = _positional(Step)
new_db_change = _positional(DbChange)

_KINDS: dict[str, type] = {
    "invoke": Invoke,
    "complete": Complete,
    "step": Step,
    "fault": Fault,
    "time": TimeAdvance,
    "db": DbChange,
    "delivery": Delivery,
    "wait": Wait,
    "end": EndState,
}


@dataclass(frozen=True, slots=True)
class Operation:
    """An invoke with its completion (``complete`` None while in flight)."""

    invoke: Invoke
    complete: Complete | None

    @property
    def process(self) -> str:
        return self.invoke.process

    @property
    def key(self) -> str | None:
        return self.invoke.key

    @property
    def outcome(self) -> Outcome | None:
        return self.complete.type if self.complete else None

    @property
    def end(self) -> int:
        """Index at which the operation ended; in-flight operations never end."""
        return self.complete.index if self.complete else 1 << 62

    def precedes(self, other: Operation) -> bool:
        """Real-time order: self completed before other was invoked."""
        return self.complete is not None and self.complete.index < other.invoke.index


@dataclass
class History:
    """An append-only, totally ordered list of events.

    ``initial`` is what the database held for each key before the first event;
    ``ttl`` the strategy's TTL in virtual seconds (None: no TTL).
    """

    initial: dict[str, str | None] = field(default_factory=dict)
    ttl: float | None = None
    events: list[Event] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __getitem__(self, index: int) -> Event:
        return self.events[index]

    @property
    def next_index(self) -> int:
        return len(self.events)

    def append(self, event: Event) -> Event:
        if event.index != len(self.events):
            raise ValueError(f"event index {event.index} != next index {len(self.events)}")
        self.events.append(event)
        return event

    def operations(self, f: str | None = None) -> list[Operation]:
        """Operations in invoke order, optionally only those named ``f``."""
        done: dict[tuple[str, int], Complete] = {
            (e.process, e.op): e for e in self.events if isinstance(e, Complete)
        }
        return [
            Operation(e, done.get((e.process, e.op)))
            for e in self.events
            if isinstance(e, Invoke) and (f is None or e.f == f)
        ]

    def db_changes(self, key: str) -> list[DbChange]:
        return [e for e in self.events if isinstance(e, DbChange) and e.key == key]

    def end_state(self) -> EndState | None:
        for e in reversed(self.events):
            if isinstance(e, EndState):
                return e
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "initial": dict(self.initial),
            "ttl": self.ttl,
            "events": [_event_to_json(e) for e in self.events],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        """Inverse of :meth:`to_json`; raises ValueError naming the bad event."""
        history = cls(initial=dict(data["initial"]), ttl=data.get("ttl"))
        for raw in data["events"]:
            history.append(_event_from_json(raw))
        return history


def _event_to_json(event: Event) -> dict[str, Any]:
    data = asdict(event)
    for name in ("keys", "expired", "on", "args"):
        if data.get(name) is not None:
            data[name] = list(data[name])
    if data.get("rows") is not None:
        data["rows"] = [list(row) for row in data["rows"]]
    return data


def _event_from_json(raw: dict[str, Any]) -> Event:
    try:
        cls = _KINDS[raw["kind"]]
        data = dict(raw)
        for name in ("keys", "expired", "on", "args"):
            if data.get(name) is not None:
                data[name] = tuple(data[name])
        if data.get("rows") is not None:
            data["rows"] = tuple(tuple(row) for row in data["rows"])
        if cls is Complete:
            data["type"] = Outcome(data["type"])
        return cls(**data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a history event: {raw!r} ({exc})") from exc
