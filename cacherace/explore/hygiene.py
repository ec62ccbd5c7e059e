"""What the explorers do between two runs so one run never leaks into the next.

- A process whose operation ended with its connection still inside a transaction
  (a strategy that never commits, or a ``with conn.transaction()`` block whose
  COMMIT failed before reaching the server) holds row locks: the next run's reset
  would wait on them, forever. Such transactions are rolled back when the run ends.
- Every statement the harness makes on its own connection is bounded
  (``lock_timeout``, ``statement_timeout``): a lock held from outside the run
  becomes one clear error naming the holder, never a hang.

The engine owns these connections; until it does this itself (the engine split),
the explorers call :func:`end_run` before each reset.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from cacherace.engine.engine import HarnessError, Scheduler

#: Bounds on the harness's own statements (a reset, a peek, a lock query).
HARNESS_LOCK_TIMEOUT = "5s"
HARNESS_STATEMENT_TIMEOUT = "30s"


def bound_harness(s: Scheduler) -> None:
    """Set the timeouts on the scheduler's admin connection (again after a restart)."""
    conn = s.admin_db
    if getattr(s, "_bounded_admin", None) is conn or conn.closed:
        return
    conn.execute(f"SET lock_timeout = '{HARNESS_LOCK_TIMEOUT}'")
    conn.execute(f"SET statement_timeout = '{HARNESS_STATEMENT_TIMEOUT}'")
    s._bounded_admin = conn  # type: ignore[attr-defined]


def end_run(s: Scheduler) -> list[str]:
    """Roll back the transactions idle processes left open; returns their names."""
    left: list[str] = []
    for p in s.processes.values():
        db = p.db
        if p.worker is not None or db is None or db.closed or db.broken:
            continue
        if db.pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            left.append(p.name)
            with contextlib.suppress(psycopg.Error):
                db.rollback()
    if s.db_up:
        bound_harness(s)
    return left


def reset(s: Scheduler, initial: Any = None) -> Any:
    """``s.reset`` after :func:`end_run`; a reset that still meets a lock held from
    outside the run says who holds it."""
    end_run(s)
    try:
        return s.reset(initial)
    except psycopg.errors.LockNotAvailable as exc:
        raise HarnessError(
            "the run's reset waited for a lock held outside the run (another program"
            f" or an open transaction on this database): {exc}"
        ) from None
