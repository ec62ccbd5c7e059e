"""Virtual TTLs: keep each Redis key's virtual deadline in step with what the
strategy's commands did to it.

Redis counts TTLs in real time, but a run takes milliseconds, so a real TTL of
300 s never fires during it. The harness therefore tracks deadlines itself and
deletes keys when virtual time passes them. The common commands (SET with EX,
DEL, EXPIRE, GETEX), alone or in a pipeline or MULTI, are understood from their
arguments, costing no round trip; anything else that may touch a TTL (scripts,
EXPIREAT, RENAME, ...) is settled by reading PTTL of its keys from the server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cacherace.engine.drivers.calls import Call, redis_keys, text
from cacherace.model.vtime import Deadlines

# Commands that never create, delete or re-time a key.
_READ_ONLY = frozenset(
    {
        "GET", "MGET", "EXISTS", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "TYPE",
        "STRLEN", "GETRANGE", "HGET", "HGETALL", "HMGET", "HEXISTS", "HLEN", "HKEYS",
        "HVALS", "LRANGE", "LLEN", "LINDEX", "SCARD", "SMEMBERS", "SISMEMBER", "ZRANGE",
        "ZRANGEBYSCORE", "ZSCORE", "ZCARD", "ZCOUNT", "ZRANK", "XRANGE", "XREVRANGE",
        "XLEN", "XPENDING", "XINFO", "PING", "ECHO", "TIME", "INFO", "SCAN", "KEYS",
        "DBSIZE", "WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD", "SCRIPT", "CLIENT",
        "EVAL_RO", "EVALSHA_RO", "OBJECT",
    }
)  # fmt: skip
# Commands that only add to or change a value in place: a key's TTL survives them,
# and a key they create has none. Only when they may have emptied (deleted) a key
# that had a deadline is the server asked.
_KEEPS_TTL = frozenset(
    {
        "RPUSH", "LPUSH", "RPOP", "LPOP", "LREM", "LTRIM", "INCR", "INCRBY", "DECR",
        "DECRBY", "APPEND", "HSET", "HDEL", "HINCRBY", "SADD", "SREM", "ZADD", "ZREM",
        "ZPOPMIN", "ZREMRANGEBYSCORE", "XADD", "XACK", "XDEL", "XTRIM", "XGROUP",
        "XREADGROUP", "XCLAIM", "XAUTOCLAIM", "SETRANGE", "SETBIT", "PUBLISH",
    }
)  # fmt: skip
_UNITS = {"EX": 1000, "PX": 1}
# How far past the measured real time a read-back TTL may be rounded up (see refresh):
# a TTL set with finer than 25 ms precision by a script reads back rounded.
_MARGIN_MS = 25


class ExpiryTracker:
    """Applies Redis steps to the deadline table. ``admin`` is the harness's own
    (unscheduled) Redis client, used only when arguments do not tell."""

    def __init__(self, deadlines: Deadlines, admin: Any) -> None:
        self.deadlines = deadlines
        self.admin = admin

    def after(
        self, call: Call, result: Any, now: float, failed: bool, started: float | None = None
    ) -> None:
        """Update deadlines after ``call`` ran (``failed``: it raised, effect unknown;
        ``started``: ``time.perf_counter()`` when the call was sent)."""
        ask: list[str] = []
        commands = call.commands
        if failed:  # unknown effect: read what the server now says
            ask = [k for args in commands for k in redis_keys(args)]
        elif call.batch:
            # A pipeline or MULTI answers one result per command, in order: each is
            # applied as if sent alone (an error result, or a count that does not
            # match, is asked about).
            results = result if isinstance(result, list) else []
            if len(results) != len(commands):
                ask = [k for args in commands for k in redis_keys(args)]
            for args, res in zip(commands, results, strict=False):
                keys = redis_keys(args)
                ask += keys if isinstance(res, Exception) else self._apply(args, keys, res, now)
        elif len(commands) == 1:  # its keys are the call's (see calls.py), not re-parsed
            ask = self._apply(commands[0], call.keys, result, now)
        if ask:
            self.refresh(ask, now, started)

    def _apply(
        self, args: Sequence[Any], keys: Sequence[str], result: Any, now: float
    ) -> list[str]:
        """Apply one command whose effect its arguments tell; return keys to ask about."""
        name = args[0]
        name = (name if name.__class__ is str else text(name)).upper()
        if name in _READ_ONLY:
            return []
        d = self.deadlines
        if name in _KEEPS_TTL:
            return [k for k in keys if d.get(k) is not None]
        if name in ("DEL", "UNLINK", "GETDEL", "PERSIST"):
            for k in keys:
                d.forget(k)
            return []
        if name in ("FLUSHALL", "FLUSHDB"):
            d.clear()
            return []
        if name == "SET":
            if result is None or result is False:  # NX/XX refused: nothing changed
                return []
            opts = [text(a).upper() for a in args[3:]]
            if "KEEPTTL" in opts:
                return []
            for unit, scale in _UNITS.items():
                if unit in opts:
                    d.set(keys[0], now, int(text(args[3 + opts.index(unit) + 1])) * scale)
                    return []
            if "EXAT" in opts or "PXAT" in opts:
                return list(keys)
            d.forget(keys[0])
            return []
        if name in ("SETEX", "PSETEX"):
            d.set(keys[0], now, int(text(args[2])) * (1000 if name == "SETEX" else 1))
            return []
        if name in ("EXPIRE", "PEXPIRE") and len(args) == 3:
            if result in (1, True):
                d.set(keys[0], now, int(text(args[2])) * (1000 if name == "EXPIRE" else 1))
            return []
        if name == "GETEX":
            opts = [text(a).upper() for a in args[2:]]
            if not opts:
                return []  # GETEX with no option is a GET
            if opts[0] == "PERSIST":
                d.forget(keys[0])
                return []
            if opts[0] in _UNITS and len(opts) > 1 and result is not None:
                d.set(keys[0], now, int(opts[1]) * _UNITS[opts[0]])
                return []
            return list(keys)  # EXAT/PXAT, or a missing key: ask the server
        if name in ("SETNX", "MSETNX", "MSET", "GETSET", "HSETNX"):
            # A plain write with no TTL option clears any TTL the key had.
            if name == "SETNX" and not result:
                return []
            for k in keys:
                d.forget(k)
            return []
        return list(keys)  # scripts, EXPIREAT, RENAME, COPY, ...: ask the server

    def refresh(self, keys: Sequence[str], now: float, started: float | None = None) -> None:
        """Read the PTTL of ``keys`` and set their deadlines from virtual ``now``.

        PTTL is what is left in real time: a TTL of 300 s set by the step reads back as
        299999 ms when the server's millisecond ticked in between, which would expire
        the key before its virtual deadline, and differently from run to run. So the
        TTL is taken as the roundest value the step can have set: the real TTL lies
        between PTTL and PTTL plus the real milliseconds since the step was sent.
        """
        keys = list(dict.fromkeys(keys))
        with self.admin.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.pttl(k)
            ttls = pipe.execute()
        slack = 0
        if started is not None:
            # The real milliseconds since the call was sent, plus a margin: under load
            # the server's wall clock was seen to run 1-2 ms past the client's
            # monotonic one between a SET and the PTTL after it, reading 59998 for EX 60.
            slack = int((time.perf_counter() - started) * 1000) + _MARGIN_MS
        for k, ms in zip(keys, ttls, strict=True):
            ms = int(ms)
            self.deadlines.set(k, now, roundest(ms, ms + slack) if ms >= 0 else ms)

    def refresh_all(self, now: float) -> None:
        """After a cache restart: rebuild the table from what the server kept. A kept
        key keeps the virtual deadline it had (virtual time stood still meanwhile);
        only keys the table did not know are timed from their PTTL."""
        before = dict(self.deadlines._at)  # model.vtime.Deadlines has no public view
        self.deadlines.clear()
        keys = [text(k) for k in self.admin.scan_iter(count=1000)]
        if not keys:
            return
        self.refresh(keys, now)
        for k in keys:
            if k in before and self.deadlines.get(k) is not None:
                self.deadlines._at[k] = before[k]


def roundest(low: int, high: int) -> int:
    """The roundest whole number of milliseconds in ``[low, high]`` (``low`` if none is
    rounder): a whole second if there is one, else a tenth, a hundredth, ..."""
    for unit in (1000, 100, 10):
        up = -(-low // unit) * unit
        if up <= high:
            return up
    return low
