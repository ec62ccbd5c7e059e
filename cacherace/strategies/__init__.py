"""The caching strategies under test, and the protocol a user's strategy follows."""

from cacherace.strategies.base import Settings, Strategy

__all__ = ["Settings", "Strategy"]
