"""The Lua scripts of the Redis event log: each write is one atomic script.

Key and field layout is described in :mod:`tk9.log.redis`. A stream is *alive* when its info
hash has an ``epoch`` and no ``deleted`` mark.
"""

from __future__ import annotations

TOMBSTONE_TTL = 300
"""Seconds a deleted stream's tombstone entry is kept, so a ``wait`` that checked the session
just before the delete and only then starts its blocking read still sees the delete."""

_ALIVE = """
local h = redis.call('HMGET', KEYS[1], 'epoch', 'deleted')
if not h[1] or h[2] then return false end
"""

CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 and not redis.call('HGET', KEYS[1], 'deleted') then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local ord = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'created_at', ARGV[3], 'first_seq', 1,
           'last_seq', 0, 'ord', ord)
if #ARGV > 3 then redis.call('HSET', KEYS[2], unpack(ARGV, 4)) end
redis.call('ZADD', KEYS[4], ord, ARGV[1])
return 1
"""

_FENCE = """
if #KEYS > 2 and redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return -1 end
"""
"""With a third key (the fence hash), ARGV[1] = field and ARGV[2] = token: a stale token
returns -1 before anything is written (see :mod:`tk9.log.fence`)."""

APPEND = (
    _ALIVE
    + _FENCE
    + """
local seq = string.format('%d', redis.call('HINCRBY', KEYS[1], 'last_seq', 1))
redis.call('XADD', KEYS[2], seq .. '-0', 't', ARGV[3], 'ts', ARGV[4], 'p', ARGV[5],
           'j', '{"seq":' .. seq .. ',"epoch":' .. cjson.encode(h[1]) .. ARGV[6])
return {tonumber(seq), h[1]}
"""
)
"""ARGV[3..5]: the entry's type, timestamp and payload; ARGV[6]: the rest of its wire text
after the epoch (``,"timestamp":…}``). Field ``j`` is the event's ``Event.to_json()`` text, so
a replay sends it as stored (``RedisEventLog.read_entries``). Epochs are hex, so
``cjson.encode`` spells them as Python's ``json.dumps`` does."""

UPDATE_META = (
    _ALIVE
    + _FENCE
    + """
if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end
return 1
"""
)

MARK_DELETED = (
    _ALIVE
    + """
local last = redis.call('HGET', KEYS[1], 'last_seq')
redis.call('HSET', KEYS[1], 'deleted', '1')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], last .. '-1', 'deleted', '1')
return h[1]
"""
)

PURGE = """
local h = redis.call('HMGET', KEYS[1], 'epoch', 'deleted', 'last_seq')
if h[1] == ARGV[1] and h[2] then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('XTRIM', KEYS[3], 'MINID', h[3] .. '-1')
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
return 1
"""

TRIM = (
    _ALIVE
    + """
local r = redis.call('HMGET', KEYS[1], 'first_seq', 'last_seq')
local first = math.max(tonumber(r[1]), math.min(tonumber(ARGV[1]), tonumber(r[2]) + 1))
redis.call('HSET', KEYS[1], 'first_seq', string.format('%d', first))
redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d-0', first))
return first
"""
)
