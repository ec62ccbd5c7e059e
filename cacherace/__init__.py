"""cacherace: checks what caching strategies claim, against real Redis and PostgreSQL."""

__version__ = "0.1.0"
