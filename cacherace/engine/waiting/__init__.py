"""Waiting processes: sleeps, spins and waits for what another process holds.

Real caching code waits: redis-py's lock retries ``SET NX`` after ``time.sleep``,
dogpile.cache blocks on a ``threading.Lock``, cashews' lock retries ``SET NX``
after a ``PING`` and ``asyncio.sleep(0)``, a loop polls a key. Run as-is, a waiter
that the scheduler keeps stepping while the holder is parked spins forever. So a
process can be in one of these states, besides ready:

- **sleeping** (``time.sleep(s)``, see :mod:`..drivers.clock`): parked until the
  schedule steps it; virtual time then jumps to its wake-up, as in a
  discrete-event simulation (FoundationDB's simulator, Tokio's paused clock).
  The jump is the code's own doing, so it happens in every tier.
- **spinning** (:mod:`.spin`): it repeats a driver call that found nothing
  changed (the same command with the same answer, and no step, fault or expiry
  since), after a sleep or twice in a row. Calls whose answer is fixed by their
  arguments and which change nothing (``PING``, ``ECHO``) do not interrupt a
  repetition. A spinner takes no step, whether the schedule asks for it or
  ``finish`` and settle run the others first, until something changed or virtual
  time moved: its next call would ask the same question and get the same answer.
  That is CHESS's fairness assumption for spin loops (Musuvathi and Qadeer, PLDI
  2008): a loop's outcome depends on what it reads and on the clock, not on how
  often it asked. A loop that gives up after counting its own tries is still run
  to that end, but only when nobody else can go on (``MAX_SPINS_ALONE``).
- **waiting** (:meth:`Waiting.wait_until`): a ``threading`` lock or condition
  another process holds (:mod:`..drivers.threads`), or a blocking pop (BLPOP,
  BRPOP, BZPOPMIN/MAX, BRPOPLPUSH, BLMOVE) on empty keys. Stepping it does
  nothing until what it waits for is there, or its timeout has passed in virtual
  time (a pop that timed out is answered nil without being sent). Streams'
  ``XREAD BLOCK`` is not handled yet.

When no process can go on, time jumps to the next thing that would let one (a
lock key's TTL running out, a wait's timeout); when nothing would, the run is
stuck: every waiter is recorded as a ``Wait`` event that did not end, naming who
it waits for, which ``bounded-wait`` reports as a deadlock (or a lock nobody can
release), and settle ends unsettled with that reason. Each wait that ends is
recorded as a ``Wait`` event too, with its bound: the TTL its lock key had left
when the wait began, plus one polling interval.

The bookkeeping is :mod:`.state`, the spin detection (an observer of every step)
:mod:`.spin`, the collaborator the engine holds :mod:`.waits`.
"""

from cacherace.engine.waiting.spin import changes_state, is_neutral
from cacherace.engine.waiting.state import MAX_SPINS_ALONE, MIN_INTERVAL, Pace, Stuck, WaitState
from cacherace.engine.waiting.waits import Waiting

__all__ = [
    "MAX_SPINS_ALONE",
    "MIN_INTERVAL",
    "Pace",
    "Stuck",
    "WaitState",
    "Waiting",
    "changes_state",
    "is_neutral",
]
