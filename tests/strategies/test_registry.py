"""Loading strategies by catalog name, module:Class and path/to/file.py:Class."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacherace.strategies import (
    CATALOG,
    InvalidStrategy,
    Strategy,
    StrategyError,
    StrategyNotFound,
    load_strategy,
)
from cacherace.strategies.cache_aside_leases import CacheAsideLeases

USER_MODULE = """
from cacherace.strategies import Strategy

class Mine(Strategy):
    name = "mine"
    claims = ("converges",)

    def read(self, key):
        return None

    def write(self, key, value):
        pass

NOT_A_CLASS = 42

class NoOps:
    pass
"""


@pytest.mark.parametrize("name", list(CATALOG))
def test_by_catalog_name(name: str) -> None:
    cls = load_strategy(name)
    assert cls is CATALOG[name] and cls.name == name and issubclass(cls, Strategy)


def test_by_module_and_class() -> None:
    spec = "cacherace.strategies.cache_aside_leases:CacheAsideLeases"
    assert load_strategy(spec) is CacheAsideLeases


def test_by_file_path(tmp_path: Path) -> None:
    path = tmp_path / "my_strategy.py"
    path.write_text(USER_MODULE)
    cls = load_strategy(f"{path}:Mine")
    assert cls.name == "mine" and issubclass(cls, Strategy)
    assert load_strategy(f"{path}:Mine") is cls  # loaded once


def test_unknown_name_lists_the_catalog_and_the_forms() -> None:
    with pytest.raises(StrategyNotFound) as info:
        load_strategy("cache-asides")
    message = str(info.value)
    assert all(name in message for name in CATALOG)
    assert "package.module:Class" in message and "path/to/file.py:Class" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "spec",
    [
        "no_such_module_here:Thing",
        "cacherace.strategies.cache_aside:Missing",
        "does/not/exist.py:Thing",
    ],
)
def test_specs_that_name_nothing(spec: str) -> None:
    with pytest.raises(StrategyNotFound):
        load_strategy(spec)


@pytest.mark.parametrize("attr", ["NOT_A_CLASS", "NoOps"])
def test_things_that_are_not_strategies(tmp_path: Path, attr: str) -> None:
    path = tmp_path / "odd.py"
    path.write_text(USER_MODULE)
    with pytest.raises(InvalidStrategy, match="read\\(key\\) and write\\(key, value\\)"):
        load_strategy(f"{path}:{attr}")
    assert issubclass(InvalidStrategy, StrategyError)
