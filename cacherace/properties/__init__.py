'''Claims: pure checkers over a history, registered by name (the CLI names).

Each claim answers holds / broken / unknown (a :class:`~cacherace.model.Verdict`);
when broken, the verdict names the witness events (the offending read first) and
says what happened in one sentence. The built-in claims are ``fresh-after-ack``,
``ttl-bounded``, ``converges``, ``durable``, ``no-aborted-reads``,
``read-your-writes``, ``monotonic-reads``, ``available-without-cache``,
``single-flight`` and ``bounded-wait``; each module's docstrings define them
precisely, including how ``info`` outcomes count.

Conventions all claims share: a read is an operation with ``f == "read"`` (its
Complete's ``value`` is what it returned, None for nothing); a write has
``f == "write"`` (its Invoke's ``value`` is the value written). Each key's
``history.initial`` value counts as written by a virtual write acknowledged before
everything. "x precedes y" means x completed before y was invoked (history index
order). ``info`` writes may have taken effect at any time after their invoke (so
reading their value is allowed), yet are ordered by their Complete like any write:
a write invoked after an info write's Complete is newer than it. ``fail`` writes
never took effect.

Adding a claim
--------------

A claim is a function from a :class:`~cacherace.model.History` to a
:class:`~cacherace.model.Verdict`, registered with the :func:`claim` decorator
under the name strategies declare and ``--claim`` selects. It must be pure (no
I/O) and fast: invariant claims run after every rule of the state machine. An
invariant claim must answer holds (or unknown) on any prefix of a history that
shows no violation yet; pass ``end_state=True`` for a claim that can only be
decided once the run has settled (it then reads ``history.end_state()``).

Example: a user's strategy promises that a read never comes back empty once the
key has a row. Put this in a module that is imported before checking (for
example the module that defines the strategy)::

    from cacherace.model import Complete, History, Invoke, Outcome, Verdict
    from cacherace.properties import claim

    @claim("no-empty-reads", summary="a read never returns nothing once the key has a row")
    def no_empty_reads(history: History) -> Verdict:
        """Broken when an ok read of a key returns None although some ok write of
        that key, or its initial value, was in the database before the read began."""
        has_row = {k for k, v in history.initial.items() if v is not None}
        began: dict[tuple[str, int], tuple[Invoke, bool]] = {}
        for e in history.events:
            if isinstance(e, Invoke) and e.f == "read":
                # decide "had a row" when the read begins, not when it returns
                began[(e.process, e.op)] = (e, e.key in has_row)
            elif isinstance(e, Complete) and e.f == "write" and e.type is Outcome.OK:
                has_row.add(e.key or "")
            elif isinstance(e, Complete) and e.f == "read" and e.type is Outcome.OK:
                invoke, had_row = began.pop((e.process, e.op))
                if e.value is None and had_row:
                    return Verdict.broken_by(
                        "no-empty-reads",
                        f"{e.process} read {invoke.key} at t={invoke.time:g} and got"
                        " nothing, though the key had a row before that read began",
                        e.index,
                        invoke.index,
                    )
        return Verdict.holds("no-empty-reads")

Then declare it like any built-in claim, ``claims = ("fresh-after-ack",
"no-empty-reads")`` on the strategy, or select it with ``cacherace verify --claim
no-empty-reads``. Check it directly with ``check("no-empty-reads", history)``.
Test it the way the built-in claims are tested (``tests/properties/``): a
hand-made history where it is broken (assert the witness), one where it holds,
and the edge cases (``info`` writes, operations in flight).

The example gets right what every claim must: a write counts once it is
acknowledged (its Complete), not when it is invoked; what a read may return is
decided when the read begins; only ``ok`` reads are judged; the witness starts
with the offending read.
'''

# Importing the claim modules registers the built-in claims.
from cacherace.properties import (
    availability,
    bounded_wait,
    end_state,
    freshness,
    sessions,
    single_flight,
    staleness,
)
from cacherace.properties.registry import (
    CLAIMS,
    Checker,
    Claim,
    UnknownClaim,
    check,
    claim,
    get_claim,
)

__all__ = [
    "CLAIMS",
    "Checker",
    "Claim",
    "UnknownClaim",
    "availability",
    "bounded_wait",
    "check",
    "claim",
    "end_state",
    "freshness",
    "get_claim",
    "sessions",
    "single_flight",
    "staleness",
]
