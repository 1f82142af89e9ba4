"""Rate buckets shared by every node: the token buckets of :class:`tk9.server.limits.Limits`
(new sessions per user, stream connects per user and per address, sign-in attempts per
address) kept in Redis when the Redis log is used, so N web nodes allow the rate once, not N
times.

One Lua script refills and takes atomically (two nodes can never both take the last token):
``tk9:rate:{key}`` is a hash ``{tokens, at}``; the script refills ``tokens`` for the time since
``at`` (at most ``burst``), takes one if there is one, and answers how long until there would be
one. The time is the caller's (the node's injected clock, wall time so that nodes agree), not
Redis ``TIME``: tests drive it with a ``FakeClock``. A node whose clock is behind the bucket's
``at`` refills nothing (time never runs backwards for a bucket). The key expires when the bucket
would be full again, so idle clients cost nothing.

Redis unreachable: :class:`tk9.errors.Unavailable` (503, retryable), as for the user store —
fail closed rather than let every node allow the full rate on its own.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tk9.errors import Unavailable

PREFIX = "tk9:rate:"

_TAKE = """
local burst, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil or at == nil then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


def bucket_key(key: str) -> str:
    return PREFIX + key


class SharedBuckets:
    """Token buckets in Redis (see the module docstring), on a client the caller owns."""

    def __init__(self, client: Redis) -> None:
        self._take = client.register_script(_TAKE)

    async def take(self, key: str, burst: int, per_minute: float, now: float) -> float:
        """Take a token from bucket ``key`` (full at ``burst``, refilled at ``per_minute``)
        at time ``now``: 0.0 if taken, else the seconds until one is there (nothing taken)."""
        args = [str(burst), repr(per_minute / 60.0), repr(now)]
        try:
            wait = await self._take(keys=[bucket_key(key)], args=args)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise Unavailable(f"rate limits (Redis) unavailable: {exc}") from None
        return float(wait.decode() if isinstance(wait, bytes) else wait)
