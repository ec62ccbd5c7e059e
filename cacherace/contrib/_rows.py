"""The database half the async recipes share: the library caches, the row is ours."""

from __future__ import annotations

from typing import Any


async def select_value(db: Any, table: str, key: str) -> str | None:
    """One SELECT on an async connection: the committed value of ``key``."""
    cur = await db.execute(f"SELECT value FROM {table} WHERE key = %s", (key,))
    row = await cur.fetchone()
    return None if row is None else row[0]


async def upsert(db: Any, table: str, key: str, value: str) -> None:
    """One autocommit UPSERT that bumps the version (the catalog's, without RETURNING:
    the recipes' traces record this statement)."""
    await db.execute(
        f"INSERT INTO {table} AS t (key, value, version) VALUES (%s, %s, 1) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = t.version + 1",
        (key, value),
    )
