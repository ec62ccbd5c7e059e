"""The caching strategies under test, and the protocol a user's strategy follows."""

from cacherace.strategies.base import Settings, Strategy
from cacherace.strategies.registry import (
    CATALOG,
    InvalidStrategy,
    StrategyError,
    StrategyNotFound,
    load_strategy,
)

__all__ = [
    "CATALOG",
    "InvalidStrategy",
    "Settings",
    "Strategy",
    "StrategyError",
    "StrategyNotFound",
    "load_strategy",
]
