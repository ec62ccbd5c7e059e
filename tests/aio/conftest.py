"""The engine's fixtures (real servers, schedulers closed after each test)."""

from tests.engine.conftest import make_scheduler, pg, redis_aof, redis_none, settings

__all__ = ["make_scheduler", "pg", "redis_aof", "redis_none", "settings"]
