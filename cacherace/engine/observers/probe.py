"""End states observed without knowing a library's formats.

A strategy built on a library (dogpile.cache pickles values into an envelope,
Flask-Caching hashes its keys) knows nothing of ``settings.cache_key(key)``: a
peek there sees a key the library never wrote, and ``converges`` would "hold" on
nothing. So unless a strategy defines ``peek_cache`` itself, the settled cache is
observed through the strategy's own ``read``: a *probe* read, after settling, by a
client, is what a client would read now. It counts as served from the cache when
it read nothing from the database; otherwise the key counts as not cached. Its
events go to a scratch history, so the run's history ends as before.

The trade-off: a probe sees what a read returns, not what Redis holds, so a cached
value that reads never return (shadowed by a newer one) goes unseen, and a read
that always consults the database (a version check) never counts as a hit. A
strategy for which that matters defines ``peek_cache``.

Eviction has the same problem: unless a strategy defines ``cache_keys``, an
eviction of item key ``k`` removes the Redis keys that steps of operations on
``k`` changed (:attr:`Waiting.written`).

The catalog's strategies (``cacherace.strategies``) know their format and keep the
direct peek, so their histories and traces stay as they were.
"""

from __future__ import annotations

from typing import Any

from cacherace.model.history import Complete, History, Outcome, Step
from cacherace.properties.single_flight import reads_database
from cacherace.strategies.base import Strategy

_CATALOG = "cacherace.strategies."


def _defines(cls: type, name: str) -> bool:
    """``cls`` or a base other than :class:`Strategy` defines ``name``."""
    if cls.__module__.startswith(_CATALOG):
        return True
    for base in cls.__mro__:
        if base is Strategy:
            return False
        if name in vars(base):
            return True
    return True  # not a Strategy subclass: whatever it has is its own


def peeks_itself(cls: type) -> bool:
    """Whether the end state is read with ``cls.peek_cache`` rather than probed:
    it defines one, or it has no ``read`` to probe with."""
    return _defines(cls, "peek_cache") or getattr(cls, "read", None) is Strategy.read


def names_cache_keys(cls: type) -> bool:
    return _defines(cls, "cache_keys")


def cache_keys(engine: Any, key: str) -> list[str]:
    """The Redis keys holding ``key``'s cached value (what an eviction removes)."""
    cls = engine.strategy_cls
    if names_cache_keys(cls):
        return list(cls.cache_keys(engine.settings, key))
    return sorted(engine.waiting.written.get(key, ()))


def probe(engine: Any, key: str) -> tuple[str | None, str]:
    """What a client reads for ``key`` now, if served from the cache (else None),
    and why not when it could not tell ("" when it could)."""
    rec = engine.recorder
    saved, ops = rec.history, rec.ops
    rec.history = History(initial=dict(saved.initial), ttl=saved.ttl)
    name = engine.clients[0]
    try:
        engine.start(name, "read", key)
        engine.run_to_end(name, settling=True)
        events = rec.history.events
    except Exception as exc:  # any failure makes the end unknown
        return None, f"the probe read of {key} failed: {exc}"
    finally:
        rec.history, rec.ops = saved, ops
    done = [e for e in events if isinstance(e, Complete)]
    if not done or done[-1].type is not Outcome.OK:
        why = done[-1].error if done else "it did not end"
        return None, f"the probe read of {key} did not succeed: {why}"
    if any(isinstance(e, Step) and reads_database(e) for e in events):
        return None, ""  # a miss: nothing cached for it
    return done[-1].value, ""
