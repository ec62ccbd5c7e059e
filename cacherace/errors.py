"""Every exception cacherace raises, under one root (as Hypothesis's ``errors.py``).

``CacheraceException`` is the root. Errors derive from :class:`CacheraceError`
(an ``Exception``): each message names the cause and what to do. Some keep a
builtin base too (``ValueError``, ``AssertionError``) so existing ``except``
clauses and pytest's assertion reporting still apply.

Control-flow signals derive from :class:`Signal`, a ``BaseException`` on purpose:
they unwind code under test (a crashed client's worker, a search out of time),
and a strategy's own ``except Exception`` must not swallow them. They are never
shown to users as errors.
"""

from __future__ import annotations


class CacheraceException(BaseException):
    """Root of everything cacherace raises."""


class CacheraceError(CacheraceException, Exception):
    """An error: the message names the cause and the fix."""


# -- errors ---------------------------------------------------------------------------
class HarnessError(CacheraceError):
    """The harness cannot go on (a blocked step, a server that will not come back).
    Never a verdict: an exploration that hits one says so (exit 2)."""


class BackendError(CacheraceError):
    """A server could not be provided."""


class BackendUnavailable(BackendError):
    """This provider cannot work on this machine (tests skip with the message)."""


class CrashUnsupported(BackendError):
    """Crash/restart asked of a server the suite does not own (given by URL)."""


class StrategyError(CacheraceError, ValueError):
    """A strategy spec that cannot be turned into a strategy class."""


class StrategyNotFound(StrategyError):
    """The spec names nothing that exists."""


class InvalidStrategy(StrategyError):
    """The spec names something that is not a strategy class."""


class UnknownClaim(CacheraceError, KeyError, ValueError):
    """A claim name nobody registered; the message lists the known names."""

    def __init__(self, name: str, known: str) -> None:
        self.message = f"unknown claim {name!r}; known claims: {known}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class BadAction(CacheraceError, ValueError):
    """An action that cannot be read or applied (corrupt or mismatched trace)."""


class TraceError(CacheraceError, ValueError):
    """A trace file that cannot be used; the message names the file, the problem, the fix."""


class ReplayError(CacheraceError, ValueError):
    """The trace cannot be replayed here (its strategy, claim or processes do not match)."""


class ClaimError(CacheraceError, AssertionError):
    """A claim broke (base of the explorers' ``ClaimBroken`` and ``ClaimsBroken``):
    an AssertionError, so a failing pytest test shows it as a failure."""


# -- control-flow signals ---------------------------------------------------------------
class Signal(CacheraceException):
    """Base of the control-flow signals: BaseExceptions that code under test cannot
    swallow with ``except Exception``."""


class ClientCrashed(Signal):
    """Thrown into a crashed client's worker: unwinds it without running another
    driver call."""


class StepBlocked(Signal):
    """A step did not return in time; the engine turns it into a HarnessError
    naming the step."""


class SearchCapped(Signal):
    """The search ran out of its wall-time cap before any example failed:
    Hypothesis aborts at once instead of shrinking it."""
