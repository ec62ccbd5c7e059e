"""Virtual time: the harness's clock and the keys' virtual expiry deadlines."""

from __future__ import annotations


class VirtualClock:
    """Seconds since the run began; moves only when told to. Callable, so a strategy
    can take it wherever it would take ``time.time``."""

    __slots__ = ("now", "reads")

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        #: how often code under test read the clock (the explorer's time footprints)
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def advance(self, delta: float) -> float:
        if delta < 0:
            raise ValueError(f"virtual time cannot go back (delta={delta})")
        self.now += delta
        return self.now


class Deadlines:
    """Virtual expiry deadline of each key that has a TTL."""

    __slots__ = ("_at",)

    def __init__(self) -> None:
        self._at: dict[str, float] = {}

    def set(self, key: str, now: float, ttl_ms: int | None) -> None:
        """Record a key's TTL as read from the server: ``None`` or negative means no
        TTL (or no key); the deadline counts from virtual ``now``."""
        if ttl_ms is None or ttl_ms < 0:
            self._at.pop(key, None)
        else:
            self._at[key] = now + ttl_ms / 1000.0

    def forget(self, key: str) -> None:
        self._at.pop(key, None)

    def clear(self) -> None:
        self._at.clear()

    def get(self, key: str) -> float | None:
        return self._at.get(key)

    def snapshot(self) -> dict[str, float]:
        """Every deadline now (a copy)."""
        return dict(self._at)

    def due(self, now: float) -> list[str]:
        """Keys whose deadline has passed at ``now`` (strictly: a key with deadline
        300 still lives at 300 and is gone just after), removed from the table."""
        keys = sorted(k for k, at in self._at.items() if at < now)
        for k in keys:
            del self._at[k]
        return keys
