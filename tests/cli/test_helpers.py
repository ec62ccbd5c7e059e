"""The leak check the CLI tests rely on sees servers while they run."""

from __future__ import annotations

import pytest

from cacherace.servers import BackendUnavailable, open_backend

from .helpers import processes_under, servers_reaped


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_running_servers_are_seen_until_closed(kind: str) -> None:
    try:
        backend = open_backend("local")
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))
    with servers_reaped() as root:
        with backend:
            server = backend.redis("none") if kind == "redis" else backend.postgres()
            pid = getattr(server, "pid", None)  # local servers are processes of ours
            running = processes_under(root)
            assert pid is not None and any(line.startswith(f"pid {pid} ") for line in running)
        assert processes_under(root) == []
