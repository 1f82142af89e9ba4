"""Per-user run limits shared by every node: the concurrent runs and the runs per day of each
user, counted in Redis (used whenever the Redis log, and so the Redis user store, is).

One process can count a user's runs in memory; several web nodes behind a load balancer
cannot — each would allow the full limit, and a user could start N times as many runs as
allowed. So a node *reserves* a run before it creates the session, with one Lua script that
checks and records atomically (two nodes can never both take the last slot):

* ``tk9:users:active:{user}`` — sorted set, the user's runs queued or running (member = session
  id, score = when it was reserved); full at ``user_max_active_runs``;
* ``tk9:users:started:{user}`` — sorted set, the runs the user started in the last 24 hours
  (entries older than a day are dropped by the script); full at ``user_runs_per_day``. A
  deleted session still counts: its run was started.

Ended runs leave the active set when the next reservation looks at it (:meth:`prune`): the
shared log's listing metadata says which runs ended (or were deleted). A reservation whose
session does not exist yet is kept for :data:`GRACE` seconds, as it may be another node's that
is creating it right now.

Redis unreachable: :class:`tk9.errors.Unavailable` (503, retryable) and no run is admitted.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tk9.errors import NotFound, Unavailable
from tk9.log.base import EventLog
from tk9.sessions import is_terminal

PREFIX = "tk9:users:"
DAY = 86_400.0
GRACE = 60.0
"""Seconds a reservation without a session yet is kept (the node creating it may be slow)."""


def active_key(user: str) -> str:
    return f"{PREFIX}active:{user}"


def started_key(user: str) -> str:
    return f"{PREFIX}started:{user}"


class Refused(IntEnum):
    NO = 0
    ACTIVE = 1
    """The user has ``max_active`` runs queued or running."""
    DAILY = 2
    """The user started ``per_day`` runs in the last 24 hours."""


@dataclass(frozen=True, slots=True)
class Reservation:
    refused: Refused
    count: int = 0
    """How many runs the full limit counted."""
    oldest: float = 0.0
    """For ``DAILY``: when the oldest of the day's runs started (it frees a slot a day on)."""


_RESERVE = """
local now, max_active, per_day, day = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
local active = redis.call('ZCARD', KEYS[1])
if active >= max_active then return {1, active, '0'} end
if per_day > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - day)
  local started = redis.call('ZCARD', KEYS[2])
  if started >= per_day then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {2, started, oldest[2]}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('EXPIRE', KEYS[2], math.ceil(day))
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
return {0, 0, '0'}
"""


@contextlib.asynccontextmanager
async def _errors() -> AsyncIterator[None]:
    """Map Redis connectivity failures to the retryable ``Unavailable`` (HTTP 503)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise Unavailable(f"run limits (Redis) unavailable: {exc}") from None


class RunAdmission:
    """The shared per-user counters on one Redis (see the module docstring)."""

    def __init__(self, redis_url: str, log: EventLog) -> None:
        self.client = Redis.from_url(redis_url)  # connects on first use
        self.log = log
        self._reserve = self.client.register_script(_RESERVE)

    async def reserve(
        self, user: str, session_id: str, now: float, max_active: int, per_day: int | None
    ) -> Reservation:
        """Count ``session_id`` as ``user``'s run unless a limit is reached (then nothing is
        recorded); ``per_day`` None = no daily quota."""
        keys = [active_key(user), started_key(user)]
        args = [session_id, repr(now), str(max_active), str(per_day or 0), repr(DAY)]
        async with _errors():
            await self.prune(user, now)
            code, count, oldest = await self._reserve(keys=keys, args=args)
        return Reservation(Refused(int(code)), int(count), float(oldest))

    async def release(self, user: str, session_id: str) -> None:
        """Undo a reservation whose session could not be created."""
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(active_key(user), session_id)
        pipe.zrem(started_key(user), session_id)
        async with _errors():
            await pipe.execute()

    async def prune(self, user: str, now: float) -> None:
        """Drop the user's runs that ended or were deleted from the active set."""
        key = active_key(user)
        members = await cast(Any, self.client.zrange(key, 0, -1, withscores=True))
        for raw, reserved in members:
            sid = raw.decode() if isinstance(raw, bytes) else str(raw)
            try:
                ended = is_terminal((await self.log.info(sid)).meta)
            except NotFound:
                ended = now - float(reserved) > GRACE
            if ended:
                await cast(Any, self.client.zrem(key, sid))

    async def close(self) -> None:
        await self.client.aclose()
