"""Database lock waits: a statement that waits for a row lock held by a parked
process must not stall the one thread every process shares.

Its process parks as waiting (the server says it waits, via ``pg_blocking_pids``),
the others go on, and it completes right after the step that releases the lock:
a released lock is granted before the releasing COMMIT (or disconnect) returns.
One inexactness follows from the server running the released statement on its
own: when it autocommits, the timeline read back after the releasing COMMIT
already shows the waiter's value (the holder's was current for an instant no read
could see).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.waiting import Ready, Wait

from cacherace.engine import hangs
from cacherace.engine.drivers.calls import POSTGRES
from cacherace.engine.process import Process
from cacherace.engine.runtime import State, park

#: Backstop for a step waiting on a lock nobody in the run holds (another program):
#: waits on the run's own processes are handled cooperatively and never reach it.
LOCK_TIMEOUT_S = 30
#: How long a statement's reply is awaited before asking the server whether it is
#: waiting for a lock (real time; the answer, not the timing, decides).
LOCK_POLL_S = 0.002


class LockWaits:
    """Who waits for a lock, and waking them once it is released."""

    def __init__(self, servers: Any, processes: Mapping[str, Process]) -> None:
        self.servers = servers
        self.processes = processes
        self.waiters = 0  # a count: checked after every step
        self.waking = False

    def wake(self, switch: Callable[[Process], None]) -> None:
        """Let waiting statements go on once their holder released the lock."""
        self.waking = True
        try:
            progress = True
            while progress:
                progress = False
                for q in self.processes.values():
                    if q.state is State.WAITING and q.worker is not None:
                        switch(q)  # re-asks the server; parks again if still waiting
                        progress = progress or q.state is not State.WAITING
        finally:
            self.waking = False

    def wait_for_reply(self, p: Process, conn: Any, gen: Any) -> Any:
        """Drive psycopg's protocol generator for ``p``'s call (as psycopg's own wait
        does), but when no reply comes and the server says the statement waits for
        a lock, park ``p`` as waiting instead of blocking every process."""
        fileno = conn.pgconn.socket
        try:
            state = next(gen)
            while True:
                if hangs.GIVING_UP and state == Wait.R:  # sent to a paused server
                    hangs.giving_up(p)
                readable, writable, broken = select.select(
                    (fileno,) if state & Wait.R else (), (fileno,) if state & Wait.W else (),
                    (fileno,), LOCK_POLL_S,
                )  # fmt: skip
                if broken:
                    raise psycopg.OperationalError("connection socket closed")
                if not readable and not writable:
                    while self.waits_for_lock(conn):
                        p.state = State.WAITING
                        self.waiters += 1
                        try:
                            park(p)
                        finally:
                            if p.state is State.WAITING:  # not if it died meanwhile
                                p.state = State.CALLING
                            self.waiters -= 1
                    continue
                state = gen.send((Ready.R if readable else 0) | (Ready.W if writable else 0))
        except StopIteration as done:
            return done.value

    def let_released_statements_finish(self) -> None:
        """Before reading the timeline after a commit: a statement this commit
        released from a lock wait runs at the server on its own; wait until it is
        done, so the read-back sees it every time rather than depending on timing."""
        if not self.waiters:  # runs after every commit: nearly always nothing to do
            return
        pids = [q.db.info.backend_pid for q in self.processes.values()
                if q.state is State.WAITING and q.db is not None and not q.db.closed]  # fmt: skip
        if not pids:
            return
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while time.monotonic() < deadline:
            row = self.servers.admin_db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"
                " AND state = 'active' AND cardinality(pg_blocking_pids(pid)) = 0",
                (pids,),
            ).fetchone()
            if not row or row[0] == 0:
                return
            time.sleep(LOCK_POLL_S / 4)  # a released statement takes well under a ms

    def waits_for_lock(self, conn: Any) -> bool:
        if POSTGRES in self.servers.paused:
            return True  # it cannot be asked; it waits at least until the resume
        try:
            row = self.servers.admin_db.execute(
                "SELECT cardinality(pg_blocking_pids(%s)) > 0",
                (conn.info.backend_pid,),
                prepare=True,
            ).fetchone()
        except psycopg.Error:
            return False  # the server went away: the reply (an error) is on its way
        return bool(row and row[0])

    def blocked_message(self, p: Process, call: Any, exc: BaseException) -> str:
        """Why ``p``'s step did not return, naming who holds transactions open."""
        holders = [
            q.name
            for q in self.processes.values()
            if q is not p and q.db is not None and not q.db.closed
            and q.db.info.transaction_status == TransactionStatus.INTRANS
        ]  # fmt: skip
        keys = f" on {', '.join(call.keys)}" if call.keys else ""
        op = f" in its {p.f} of {p.key}" if p.key else f" in its {p.f}"
        who = f"; parked inside a transaction: {', '.join(holders)}" if holders else ""
        # Locks held by the run's own processes are waited for cooperatively, so a
        # lock timeout means a lock held from outside the run.
        why = (
            "a lock held outside this run (another program on this database?)"
            if isinstance(exc, psycopg.errors.LockNotAvailable)
            else "a server that accepts the call but never answers it"
        )
        return (
            f"step blocked: {p.name}'s {call.target} call `{call.command}`{keys}{op} did not "
            f"return ({type(exc).__name__}){who}; it waits on {why}."
        )
