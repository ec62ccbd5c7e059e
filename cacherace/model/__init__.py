"""The pure model of cacherace: histories, virtual time, the database timeline, verdicts,
and the schedule's actions.

Vocabulary (one meaning each, everywhere: code, docs, CLI, reports):

strategy
    The caching code under test: ordinary synchronous code that calls redis-py and
    psycopg (``read(key)``, ``write(key, value)``, optional actors).
client
    One logical application process running strategy operations, one at a time.
actor
    A background participant that is not a client (a write-behind flusher, a
    delayed-delete worker). Scheduled like a client.
step
    One driver call: one Redis command (a pipeline, MULTI/EXEC or Lua script counts
    as one), one SQL statement, one COMMIT/ROLLBACK. The unit of interleaving.
schedule
    The order in which steps of clients and actors run, plus where faults and time
    advances fall.
fault
    Something that breaks: cache crash, database crash, a cache or database pause
    (a hang, until it resumes), client crash, a client's timeout on a call to a
    paused server, a driver call that fails before or after it took effect,
    eviction of a key.
virtual time
    The clock the harness owns. TTLs and delays count in it; it only moves when the
    schedule says so.
history
    What happened, as data: operation invokes and outcomes (``ok``, ``fail``,
    ``info``), steps, faults, time advances, database changes; totally ordered.
claim
    A property a strategy asserts, checked over a history; answers holds / broken /
    unknown, naming witness events when broken.
trace
    A saved, replayable schedule (JSON) with the history it produced and the verdict.
process
    A client or an actor: what the engine schedules. Its state is one of idle,
    running, parked (at a step), stepping, calling, waiting, crashed, blocked.
tier
    What a schedule may use: ``concurrency``; + ``time``; + ``faults`` (client
    crash, driver-call failure, eviction); + ``crashes``, "crashes and hangs"
    (cache or database crash and restart, pause and resume, a client's timeout on
    a call to a paused server). A verdict names the weakest tier that breaks the
    claim.
scope
    The bound of a systematic search: clients, operations per client, keys,
    faults, preemptions.
evidence
    How a verdict was reached: exhaustive within a scope (complete or not), or
    random with N examples.
delivery
    Invalidation messages reaching a client-side cache (redis-py's RESP3
    ``cache_config``): Redis pushes them when a key a connection read changes;
    when they arrive is a schedule choice (``deliver``), recorded as a ``Delivery``.
waiting
    A process that cannot go on until another acts or time passes (a lock, a
    sleep, a blocking command, a call to a paused server); recorded as a ``Wait``
    event when it ends, or when nothing can end it.

Nothing in this package does I/O, starts threads or imports a driver.
"""

from cacherace.model.history import (
    Complete,
    DbChange,
    Delivery,
    EndState,
    Event,
    Fault,
    History,
    Invoke,
    Operation,
    Outcome,
    Step,
    TimeAdvance,
    Wait,
)
from cacherace.model.verdict import Status, Verdict
from cacherace.model.vtime import Deadlines, VirtualClock

__all__ = [
    "Complete",
    "DbChange",
    "Deadlines",
    "Delivery",
    "EndState",
    "Event",
    "Fault",
    "History",
    "Invoke",
    "Operation",
    "Outcome",
    "Status",
    "Step",
    "TimeAdvance",
    "Verdict",
    "VirtualClock",
    "Wait",
]
