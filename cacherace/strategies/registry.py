"""The strategy catalog by CLI name, and loading a user's strategy from a spec.

A spec is one of:

- a catalog name: ``cache-aside``;
- ``package.module:Class`` (importable from ``sys.path``);
- ``path/to/file.py:Class`` (loaded from that file).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

from cacherace.errors import InvalidStrategy, StrategyError, StrategyNotFound
from cacherace.strategies.base import Strategy
from cacherace.strategies.cache_aside import CacheAside
from cacherace.strategies.cache_aside_double_delete import CacheAsideDoubleDelete
from cacherace.strategies.cache_aside_leases import CacheAsideLeases
from cacherace.strategies.cache_aside_update import CacheAsideUpdate
from cacherace.strategies.cache_aside_versioned import CacheAsideVersioned
from cacherace.strategies.read_through import ReadThrough
from cacherace.strategies.write_behind import WriteBehind
from cacherace.strategies.write_behind_durable import WriteBehindDurable
from cacherace.strategies.write_through import WriteThrough

#: CLI name -> class, in the order reports list them (the article's four first).
CATALOG: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        CacheAside,
        CacheAsideUpdate,
        ReadThrough,
        WriteThrough,
        WriteBehind,
        CacheAsideLeases,
        CacheAsideVersioned,
        CacheAsideDoubleDelete,
        WriteBehindDurable,
    )
}

_FORMS = "a catalog name, 'package.module:Class', or 'path/to/file.py:Class'"


def load_strategy(spec: str) -> type[Strategy]:
    """Resolve ``spec`` (see the module docstring) to a strategy class."""
    if spec in CATALOG:
        return CATALOG[spec]
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise StrategyNotFound(
            f"unknown strategy {spec!r}; the catalog has: {', '.join(CATALOG)}; "
            f"a strategy is given as {_FORMS}"
        )
    module = _load_file(where) if _is_path(where) else _import(where)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise StrategyNotFound(f"{where!r} has no attribute {attr!r} (spec {spec!r})") from None
    if not isinstance(obj, type) or not all(
        callable(getattr(obj, op, None)) for op in ("read", "write")
    ):
        raise InvalidStrategy(
            f"{spec!r} is not a strategy: expected a class with read(key) and "
            "write(key, value) methods (subclass cacherace.strategies.Strategy)"
        )
    return obj


def _is_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _import(module_name: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise StrategyNotFound(
            f"cannot import module {module_name!r} ({e}); is it on sys.path? "
            f"a strategy is given as {_FORMS}"
        ) from e


def _load_file(path_text: str) -> object:
    path = Path(path_text).resolve()
    if not path.is_file():
        raise StrategyNotFound(f"no such file: {path_text!r}; a strategy is given as {_FORMS}")
    # A stable, unique module name, registered in sys.modules so pickling,
    # dataclasses and relative lookups inside the user's module work.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"cacherace_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise StrategyNotFound(f"cannot load {path_text!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_strategy_spec(spec: str) -> type[Strategy]:
    """``load_strategy``, with a user's module that fails to import (a syntax error,
    an exception at import time) reported as a StrategyError naming the spec, the
    error and where it was raised, instead of a traceback (exit 1, "claim broken")."""
    try:
        return load_strategy(spec)
    except StrategyError:
        raise
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename[:1] != "<"]
        # a SyntaxError's message already names the file and line
        at = (
            ""
            if isinstance(exc, SyntaxError) or not frames
            else f" at {frames[-1].filename}:{frames[-1].lineno}"
        )
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise StrategyError(f"cannot load strategy {spec!r}: {detail}{at}") from exc
