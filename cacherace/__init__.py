"""cacherace: checks what caching strategies claim, against real Redis and PostgreSQL.

The public surface is :mod:`cacherace.api`, importable from here
(``from cacherace import Strategy, check_strategy, open_backend``); it is
imported on first use, so ``import cacherace`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_PUBLIC = ("CacheraceError", "Settings", "Strategy", "check_strategy", "claim",
           "open_backend", "replay")  # fmt: skip
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        from cacherace import api

        return getattr(api, name)
    raise AttributeError(f"module 'cacherace' has no attribute {name!r}")
