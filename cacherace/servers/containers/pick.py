"""Which image each container server runs: named, pinned public, or built here.

Order: the image named by option or environment; else the pinned public image
when it is present; else one that ``cacherace images build`` made here; else one
pull of the pinned image, bounded to 10 s (no registry is reachable from some
machines), and when that fails, one line saying to run ``cacherace images build``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from ..base import BackendUnavailable
from .images import KIND_LABEL, VERSION_LABEL

# Pinned so a run means the same thing everywhere; bump deliberately.
PINNED = {"redis": "redis:7.2.5", "postgres": "postgres:15.8"}
ENV_VARS = {"redis": "CACHERACE_REDIS_IMAGE", "postgres": "CACHERACE_POSTGRES_IMAGE"}
PULL_TIMEOUT_S = 10.0
# One pull attempt per image and process: doctor's probe and the backend it then
# opens must not each wait 10 s for a registry that is not there.
_PULL_FAILED: dict[str, str] = {}


@dataclass(frozen=True)
class Chosen:
    kind: str
    image: str
    version: str  # "Redis 7.0.15 (image cacherace/redis:7.0-local)"
    built_here: bool  # made by `cacherace images build` (needs no entrypoint script)


def local_images(client: Any, kind: str) -> list[str]:
    """Tags of images `cacherace images build` made for ``kind``, newest first."""
    found = client.images.list(filters={"label": f"{KIND_LABEL}={kind}"})
    found.sort(key=lambda i: i.attrs.get("Created", ""), reverse=True)
    return [t for i in found for t in i.tags]


def _get(client: Any, name: str) -> Any | None:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(name)
    except ImageNotFound:
        return None


def _pull_once(client: Any, name: str) -> str | None:
    """Pull ``name``, waiting at most PULL_TIMEOUT_S; None on success, else why not."""
    if name in _PULL_FAILED:
        return _PULL_FAILED[name]
    result: list[str | None] = []

    def pull() -> None:
        try:
            client.images.pull(name)
            result.append(None)
        except Exception as e:  # DNS, refused, auth, not found: all mean "not here"
            text = getattr(e, "explanation", None) or str(e) or type(e).__name__
            result.append(" ".join(str(text).split())[:200])

    # A daemon thread: a pull that hangs on an unreachable registry is abandoned.
    t = threading.Thread(target=pull, name=f"pull {name}", daemon=True)
    t.start()
    t.join(PULL_TIMEOUT_S)
    why = result[0] if result else f"no answer within {PULL_TIMEOUT_S:.0f} s"
    if why is not None:
        _PULL_FAILED[name] = why
    return why


def _chosen(client: Any, kind: str, name: str, image: Any) -> Chosen:
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    ours = labels.get(KIND_LABEL) == kind
    version = labels.get(VERSION_LABEL) or f"{kind} {name.rsplit(':', 1)[-1]}"
    return Chosen(kind, name, f"{version} (image {name})", ours)


def choose(client: Any, kind: str, name: str | None = None) -> Chosen:
    """The image for ``kind`` ("redis" | "postgres"), else BackendUnavailable."""
    name = name or os.environ.get(ENV_VARS[kind]) or None
    fix = (
        f"run `cacherace images build` to build it from this machine's servers, or name "
        f"another with --{kind}-image / {ENV_VARS[kind]}"
    )
    if name is None:
        if (image := _get(client, PINNED[kind])) is not None:
            return _chosen(client, kind, PINNED[kind], image)
        built = local_images(client, kind)
        if built:
            return _chosen(client, kind, built[0], _get(client, built[0]))
        name = PINNED[kind]
    elif (image := _get(client, name)) is not None:
        return _chosen(client, kind, name, image)
    why = _pull_once(client, name)
    if why is None and (image := _get(client, name)) is not None:
        return _chosen(client, kind, name, image)
    raise BackendUnavailable(f"image {name} is not here and could not be pulled ({why}); {fix}")


def describe(client: Any, names: dict[str, str | None] | None = None) -> list[str]:
    """For doctor: the image each kind would run, in choose()'s order, without pulling."""
    lines = []
    for kind in PINNED:
        named = (names or {}).get(kind) or os.environ.get(ENV_VARS[kind])
        candidates = [named] if named else [PINNED[kind], *local_images(client, kind)]
        present = [n for n in candidates if _get(client, n) is not None]
        if present:
            lines.append(f"{kind} image: {present[0]} (present)")
        else:
            lines.append(
                f"{kind} image: {candidates[0]} is not here; run `cacherace images build`"
                + ("" if named else f" (or docker pull {PINNED[kind]})")
            )
    return lines
