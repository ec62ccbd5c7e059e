"""Observers: bookkeeping after each step (virtual TTLs, the database timeline)."""
