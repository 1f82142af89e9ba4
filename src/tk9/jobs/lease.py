"""Run leases in Redis: who executes a run, until when, and the global concurrency limit.

A worker executing a run holds its lease and renews it every third of ``lease_ttl``. Expiry
times are wall-clock seconds from the caller's injected :class:`~tk9.clock.Clock` (so unit
tests move time by hand; nodes need NTP-synchronised clocks, as any lease scheme does), kept
in one sorted set — member = session id, score = expiry — beside a hash of holders. Every
operation is one Lua script, so a check and its change are atomic across nodes:

* :meth:`Leases.acquire` takes a free or lapsed lease, and only while fewer than ``limit``
  leases are live (the global ``max_concurrent_runs``: a slot is a live lease);
* :meth:`Leases.renew` extends a lease only for its holder and only if it has not lapsed —
  a lapsed lease may already be closing on another node, so its old holder must stop;
* every take raises the run's *generation* (hash ``tk9:runs:fence``), the fencing token that
  :meth:`Leases.take` hands out: the Redis log refuses a write carrying an older one
  (:mod:`tk9.log.fence`), so a holder that lost its lease cannot write after the takeover;
  the generation is never reset, so a token is never reused;
* :meth:`Leases.lapsed` lists leases past their expiry, which :mod:`tk9.jobs.reaper` closes.

Redis's own key expiry is not used: a vanished key could not be told from a run that never
had a lease, while a lapsed score stays visible until someone deals with it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, cast

from redis.asyncio import Redis

from tk9.log.fence import Fence

PREFIX = "tk9:runs:"
LEASES = PREFIX + "leases"
HOLDERS = PREFIX + "holders"
FENCE = PREFIX + "fence"
"""Hash: session id -> lease generation, raised by every take (the fencing token)."""


class Got(IntEnum):
    """What :meth:`Leases.acquire` did."""

    FULL = -1
    """No slot: ``limit`` leases are live."""
    HELD = 0
    """Someone else holds a live lease on this run."""
    FRESH = 1
    """Taken; the run had no lease (or this holder already had it)."""
    TOOK_OVER = 2
    """Taken from a holder whose lease had lapsed: that attempt died."""


_ACQUIRE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local now, ttl, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local lapsed = 0
if score then
  if tonumber(score) >= now then
    if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
      redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
      return {1, tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or 0)}
    end
    return {0, 0}
  end
  lapsed = 1
end
if limit > 0 and redis.call('ZCOUNT', KEYS[1], now, '+inf') >= limit then
  return {-1, 0}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return {1 + lapsed, redis.call('HINCRBY', KEYS[3], ARGV[1], 1)}
"""

_RENEW = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < tonumber(ARGV[3]) then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
return 1
"""

_FORGET = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('DEL', KEYS[4])
"""

_RELEASE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


class Leases:
    """The lease table on one Redis (see the module docstring)."""

    def __init__(self, client: Redis, ttl: float) -> None:
        self.client = client
        self.ttl = ttl
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._forget = client.register_script(_FORGET)

    async def acquire(self, session_id: str, holder: str, now: float, limit: int = 0) -> Got:
        """Take the run's lease until ``now + ttl``; ``limit`` 0 = no slot check."""
        return (await self.take(session_id, holder, now, limit))[0]

    async def take(
        self, session_id: str, holder: str, now: float, limit: int = 0
    ) -> tuple[Got, Fence | None]:
        """:meth:`acquire`, with the fence for the taker's writes (None when not taken).

        Each take raises the run's generation, atomically with the take, so a writer holding
        an older token is refused by the log from then on (:mod:`tk9.log.fence`).
        """
        args = [session_id, holder, repr(now), repr(self.ttl), str(limit)]
        code, generation = await self._acquire(keys=[LEASES, HOLDERS, FENCE], args=args)
        got = Got(int(code))
        if got in (Got.FULL, Got.HELD):
            return got, None
        return got, Fence(FENCE, session_id, int(generation))

    async def renew(self, session_id: str, holder: str, now: float) -> bool:
        """Extend a live lease of ``holder``; False when it lapsed or was taken over."""
        args = [session_id, holder, repr(now), repr(self.ttl)]
        return bool(await self._renew(keys=[LEASES, HOLDERS], args=args))

    async def release(self, session_id: str, holder: str) -> bool:
        """Drop the lease if ``holder`` still has it."""
        return bool(await self._release(keys=[LEASES, HOLDERS], args=[session_id, holder]))

    async def forget(self, session_id: str) -> None:
        """Drop everything kept for a deleted session: lease, holder, generation, cancel.

        Only for a session whose stream is gone: session ids are never reused, and a writer
        still holding an old token is refused all the same (no generation matches it).
        """
        keys = [LEASES, HOLDERS, FENCE, cancel_key(session_id)]
        await self._forget(keys=keys, args=[session_id])

    async def lapsed(self, now: float) -> list[str]:
        """Runs whose lease expired before ``now``."""
        found = await cast(Any, self.client.zrangebyscore(LEASES, "-inf", f"({now!r}"))
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def live(self, now: float) -> list[str]:
        """Runs holding a live lease (executing, or being closed)."""
        found = await cast(Any, self.client.zrangebyscore(LEASES, repr(now), "+inf"))
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def holder(self, session_id: str) -> str | None:
        value = await cast(Any, self.client.hget(HOLDERS, session_id))
        return value.decode() if isinstance(value, bytes) else value


def cancel_key(session_id: str) -> str:
    """Set (with a day's expiry) when a cancel was asked for the run."""
    return f"{PREFIX}cancel:{session_id}"
