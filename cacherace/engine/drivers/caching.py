"""redis-py's client-side cache under the scheduler: its tracking connections tell
the engine they exist, and its invalidation handler lets the engine hold pushes
(:mod:`cacherace.engine.observers.invalidations` says when they are applied, and
why).

Three hooks, all free for code outside scheduled processes and for clients
without ``cache_config``:

- a pool built with a cache marks its owner's engine as using one (so the
  random explorer offers ``deliver``);
- ``CacheProxyConnection._enable_tracking_callback`` (run at every connect, after
  ``CLIENT TRACKING ON``) registers the socket connection, and wraps, on those
  instances only, its ``read_response`` (held pushes come before a reply), the
  proxy's (a reply that read no socket was a local hit: the step's target is
  ``local``) and the proxy's ``disconnect`` (a closed stream's pushes are gone);
- ``CacheProxyConnection._on_invalidation_callback`` asks the engine first
  whether it holds the push.
"""

from __future__ import annotations

from typing import Any

import redis
from greenlet import getcurrent

from cacherace.engine.drivers.ownership import owner

_installed = False


def _wrap_connection(p: Any, proxy: Any, conn: Any) -> None:
    invalidations = p.engine.invalidations
    invalidations.track(p, proxy, conn)
    if getattr(conn, "_cacherace_wrapped", False):
        return
    conn._cacherace_wrapped = True
    read = conn.read_response

    def read_response(*args: Any, push_request: bool = False, **kwargs: Any) -> Any:
        invalidations.reads += 1
        if not push_request and getattr(getcurrent(), "process", None) is not None:
            invalidations.before_read(conn)
        return read(*args, push_request=push_request, **kwargs)

    conn.read_response = read_response
    read_reply = proxy.read_response

    def read_proxy(*args: Any, **kwargs: Any) -> Any:
        before = invalidations.reads
        result = read_reply(*args, **kwargs)
        if getattr(getcurrent(), "process", None) is not None:  # a step's, not the hub's
            invalidations.local = invalidations.reads == before  # answered from its cache
        return result

    proxy.read_response = read_proxy
    disconnect = proxy.disconnect

    def disconnect_proxy(*args: Any, **kwargs: Any) -> Any:
        invalidations.forget(conn)
        return disconnect(*args, **kwargs)

    proxy.disconnect = disconnect_proxy
    proxy._cacherace_hold = invalidations.hold


def install() -> None:
    """Wrap redis-py's client-side cache (idempotent; nothing when it has none)."""
    global _installed
    if _installed:
        return
    _installed = True
    proxy_cls = getattr(redis.connection, "CacheProxyConnection", None)
    if proxy_cls is None:  # redis-py before 5.1: no client-side caching
        return

    pool_init = redis.ConnectionPool.__init__

    def init_pool(self: Any, *args: Any, **kwargs: Any) -> None:
        pool_init(self, *args, **kwargs)
        if getattr(self, "cache", None) is not None:
            p = owner()
            if p is not None:
                p.engine.invalidations.used = True

    redis.ConnectionPool.__init__ = init_pool  # type: ignore[method-assign]

    enable = proxy_cls._enable_tracking_callback

    def enable_tracking(self: Any, conn: Any) -> None:
        enable(self, conn)
        p = owner()
        if p is not None:
            _wrap_connection(p, self, conn)

    proxy_cls._enable_tracking_callback = enable_tracking

    on_invalidation = proxy_cls._on_invalidation_callback

    def on_push(self: Any, data: Any) -> None:
        hold = getattr(self, "_cacherace_hold", None)
        if hold is not None and hold(data):
            return
        on_invalidation(self, data)

    proxy_cls._on_invalidation_callback = on_push
