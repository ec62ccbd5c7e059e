"""Traces: a saved, replayable schedule with the history it produced and the verdict.

The file is JSON with a format name and a version, so a trace from another tool or
a newer cacherace is refused with a message instead of being misread::

    {"format": "cacherace-trace", "version": 2,
     "strategy": "cache-aside", "claim": "converges", "tier": "concurrency",
     "settings": {"ttl": 300, "prefix": "cr:", "delay": 1.0},
     "clients": 2, "keys": ["k1"], "persistence": "none",
     "schedule": [{"do": "start", "process": "c0", "f": "read", "key": "k1"}, ...],
     "history": {"initial": {...}, "ttl": 300, "events": [...]},
     "verdict": {"claim": "converges", "status": "broken", "reason": "...", "witness": [11, 9]},
     "cacherace_version": "0.1.0", "created": "2025-01-01T00:00:00+00:00"}

``schedule`` is a list of actions (:mod:`cacherace.model.actions`), each as its JSON
object; names older traces used (``crash-cache``) are read as aliases and written
back under the one name (``cache-crash``).
Version 2 steps keep SQL parameters, Redis arguments and result rows as data
(:class:`~cacherace.model.history.Step`); version 1 traces still load, their steps
as text alone.
Files are written one action and one event per line, so traces kept in git diff well.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cacherace import __version__
from cacherace.errors import TraceError
from cacherace.model import actions as act
from cacherace.model.history import History, Step
from cacherace.model.verdict import Status, Verdict
from cacherace.strategies.base import Settings

FORMAT = "cacherace-trace"
VERSION = 2
#: Versions this cacherace reads (1: steps without structure).
READABLE = (1, 2)
DEFAULT_DIR = "cacherace-traces"

_SETTINGS_FIELDS = ("ttl", "prefix", "delay")
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "strategy": str,
    "claim": str,
    "settings": dict,
    "clients": int,
    "keys": list,
    "persistence": str,
    "schedule": list,
    "history": dict,
    "verdict": dict,
}


@dataclass
class Trace:
    """One replayable run. ``strategy`` is a catalog name or a ``module:Class`` /
    ``path.py:Class`` spec; ``tier`` the exploration tier that found it (or None)."""

    strategy: str
    claim: str
    schedule: list[act.Action]
    history: History
    verdict: Verdict
    settings: dict[str, Any] = field(
        default_factory=lambda: {
            "ttl": Settings.ttl,
            "prefix": Settings.prefix,
            "delay": Settings.delay,
        }
    )
    clients: int = 2
    keys: list[str] = field(default_factory=lambda: ["k1"])
    persistence: str = "none"
    tier: str | None = None
    cacherace_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    format: str = FORMAT
    version: int = VERSION

    def __post_init__(self) -> None:
        # Callers may pass actions in their JSON form; a trace holds typed ones.
        self.schedule = [act.from_json(a) if isinstance(a, Mapping) else a for a in self.schedule]

    def strategy_settings(self) -> Settings:
        """The trace's settings as the strategy is configured with them."""
        return Settings(**{k: v for k, v in self.settings.items() if k in _SETTINGS_FIELDS})

    @property
    def steps(self) -> int:
        """Driver calls the run made (teardown included): the length the report
        calls minimal, counted the same way as verify's ``steps``."""
        return sum(1 for e in self.history.events if isinstance(e, Step))

    def schedule_hash(self) -> str:
        """Short hash of what the run depends on: the same run gets the same name."""
        basis = {
            "strategy": self.strategy,
            "claim": self.claim,
            "schedule": [act.to_json(a) for a in self.schedule],
            "settings": self.settings,
            "clients": self.clients,
            "keys": self.keys,
            "persistence": self.persistence,
            "initial": self.history.initial,
        }
        blob = json.dumps(basis, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:6]

    def file_name(self) -> str:
        return f"{_slug(self.strategy)}--{_slug(self.claim)}--{self.schedule_hash()}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "version": self.version,
            "strategy": self.strategy,
            "claim": self.claim,
            "tier": self.tier,
            "settings": dict(self.settings),
            "clients": self.clients,
            "keys": list(self.keys),
            "persistence": self.persistence,
            "schedule": [act.to_json(a) for a in self.schedule],
            "history": self.history.to_json(),
            "verdict": verdict_to_json(self.verdict),
            "cacherace_version": self.cacherace_version,
            "created": self.created,
        }


def settings_json(settings: Settings) -> dict[str, Any]:
    """What a trace keeps of a strategy's settings."""
    return {name: getattr(settings, name) for name in _SETTINGS_FIELDS}


def verdict_to_json(v: Verdict) -> dict[str, Any]:
    return {
        "claim": v.claim,
        "status": v.status.value,
        "reason": v.reason,
        "witness": list(v.witness),
    }


def verdict_from_json(data: Mapping[str, Any]) -> Verdict:
    return Verdict(
        claim=str(data["claim"]),
        status=Status(data["status"]),
        reason=str(data.get("reason", "")),
        witness=tuple(int(i) for i in data.get("witness", ())),
    )


def _slug(text: str) -> str:
    """A file-name-safe form of a strategy spec (``pkg/mod.py:Cls`` -> ``mod-Cls``)."""
    tail = text.replace("\\", "/").rsplit("/", 1)[-1].replace(".py:", ":")
    return dashed(tail, "_.-").strip("-.")[:60] or "trace"


def dashed(text: str, keep: str = "_-") -> str:
    """``text`` with each run of characters other than ASCII letters, digits and
    ``keep`` replaced by one dash."""
    out: list[str] = []
    for ch in text:
        if (ch.isascii() and ch.isalnum()) or ch in keep:
            out.append(ch)
        elif not out or out[-1] != "-":
            out.append("-")
    return "".join(out)


# -- writing --------------------------------------------------------------------------
def dumps(trace: Trace) -> str:
    """The trace as JSON text: top-level fields one per line, one action / event per line."""
    data = trace.to_json()
    out = ["{"]
    items = list(data.items())
    for i, (name, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if name == "schedule":
            text = _lines(value, "  ")
        elif name == "history":
            events = _lines(value["events"], "    ")
            text = (
                "{\n"
                f'    "initial": {_one(value["initial"])},\n'
                f'    "ttl": {_one(value["ttl"])},\n'
                f'    "events": {events}\n'
                "  }"
            )
        else:
            text = _one(value)
        out.append(f"  {json.dumps(name)}: {text}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def _one(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _lines(items: Sequence[Any], indent: str) -> str:
    if not items:
        return "[]"
    body = ",\n".join(f"{indent}  {_one(x)}" for x in items)
    return f"[\n{body}\n{indent}]"


def save(trace: Trace, directory: str | os.PathLike[str] = DEFAULT_DIR) -> Path:
    """Write ``trace`` under ``directory`` (created if needed); returns the file's path.

    The name depends only on the run (strategy, claim, hash of the schedule and
    settings), so saving the same run twice leaves one file.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / trace.file_name()
    # Write then rename: a reader never sees half a trace.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".trace-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(trace))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- reading --------------------------------------------------------------------------
_REMAKE = (
    "re-create it with `cacherace verify --strategy {strategy} --claim {claim}`, "
    "which saves a fresh trace of any broken claim"
)


def load(path: str | os.PathLike[str]) -> Trace:
    """Read a trace file; raises :class:`TraceError` saying what is wrong and what to do."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{p}: no such trace file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot read the trace file ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(
            f"{p}: not a cacherace trace - the file is not valid JSON ({exc.msg} at line "
            f"{exc.lineno}, column {exc.colno}); it may be truncated or hand-edited: restore "
            "it from version control or " + _REMAKE.format(strategy="NAME", claim="CLAIM")
        ) from None
    return from_json(data, source=str(p))


def from_json(data: Any, source: str = "<trace>") -> Trace:
    """Build a trace from parsed JSON, checking every field; see :func:`load`."""
    if not isinstance(data, dict):
        raise TraceError(
            f"{source}: not a cacherace trace - expected a JSON object, found {type(data).__name__}"
        )
    fmt = data.get("format")
    if fmt != FORMAT:
        raise TraceError(
            f"{source}: not a cacherace trace - its format is {fmt!r}, expected {FORMAT!r}; "
            "pass a file saved by `cacherace verify` (under cacherace-traces/)"
        )
    version = data.get("version")
    if version not in READABLE or isinstance(version, bool):
        newer = isinstance(version, int) and version > VERSION
        fix = (
            "upgrade cacherace to read it"
            if newer
            else "re-create it with this cacherace (`cacherace verify`)"
        )
        raise TraceError(
            f"{source}: trace format version {version!r}, but cacherace {__version__} reads "
            f"versions {', '.join(map(str, READABLE))}; {fix}"
        )
    remake = _REMAKE.format(strategy=data.get("strategy", "NAME"), claim=data.get("claim", "CLAIM"))
    for name, kind in _REQUIRED.items():
        if name not in data:
            raise TraceError(f"{source}: the trace has no {name!r} field; {remake}")
        if not isinstance(data[name], kind) or isinstance(data[name], bool):
            raise TraceError(
                f"{source}: the trace's {name!r} should be {_kind_name(kind)}, found "
                f"{data[name]!r}; {remake}"
            )
    schedule = _read_schedule(data["schedule"], source, remake)
    try:
        history = History.from_json(data["history"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"{source}: the trace's history is not valid: {exc}; {remake}") from None
    try:
        verdict = verdict_from_json(data["verdict"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(
            f"{source}: the trace's verdict is not valid ({type(exc).__name__}: {exc}); "
            f"it needs claim, status (holds/broken/unknown), reason, witness; {remake}"
        ) from None
    tier = data.get("tier")
    return Trace(
        strategy=data["strategy"],
        claim=data["claim"],
        schedule=schedule,
        history=history,
        verdict=verdict,
        settings=dict(data["settings"]),
        clients=data["clients"],
        keys=[str(k) for k in data["keys"]],
        persistence=data["persistence"],
        tier=None if tier is None else str(tier),
        cacherace_version=str(data.get("cacherace_version", "")),
        created=str(data.get("created", "")),
        version=version,
    )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    return names.get(kind, str(kind)) if isinstance(kind, type) else str(kind)


def _read_schedule(schedule: list[Any], source: str, remake: str) -> list[act.Action]:
    """The trace's actions, typed; the first bad one is named with its number."""
    out = []
    for n, action in enumerate(schedule):
        try:
            out.append(act.from_json(action))
        except act.BadAction as exc:
            raise TraceError(f"{source}: schedule action #{n}: {exc}; {remake}") from None
    return out
