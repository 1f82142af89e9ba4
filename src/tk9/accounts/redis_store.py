"""The users/tokens store in Redis, for ``TK9_LOG_BACKEND=redis``: every node shares one user base.

Same contract as :class:`tk9.accounts.store.SqliteUserStore` (the shared contract suite in
``tests/accounts`` runs against both): argon2id password hashes, only the SHA-256 of a token is
stored, ``Conflict`` for a name taken, ``UserNotFound`` for a missing user, expiry checked
against the caller's ``now``. Keys (the ``{users}`` hash tag keeps them in one Cluster slot, so
the Lua scripts below may touch keys they compute):

* ``{prefix}:{users}:users`` — hash: user name -> JSON ``{"hash", "admin", "created_at"}``;
* ``{prefix}:{users}:t:{digest}`` — hash: ``username``, ``kind``, ``expires_at`` (``""`` = never);
* ``{prefix}:{users}:ut:{username}`` — set of that user's token digests (so removing a user
  revokes every token of theirs in the same script).

Each change is one Lua script, atomic against the others: a token cannot be created for a user
being removed, nor outlive them. A cookie token whose expiry lies ahead on the wall clock also
gets a Redis ``PEXPIREAT`` so logins that are never logged out do not pile up; the check
against ``now`` stays the authority (tests use a fake clock).

It uses the synchronous redis-py client: the port is blocking (argon2 is slow by design) and the
server runs every call in a thread, as it does for SQLite.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any, cast

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tk9.accounts.store import (
    MAX_PASSWORD,
    TOKEN_PREFIX,
    TokenKind,
    User,
    UserNotFound,
    check_password,
    check_username,
    token_digest,
)
from tk9.errors import Conflict, Unavailable

# KEYS[1] users hash, KEYS[2] token key, KEYS[3] user's token set;
# ARGV: username, kind, expires_at ("" = never), pexpireat ms ("" = none), digest
_CREATE_TOKEN = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'username', ARGV[1], 'kind', ARGV[2], 'expires_at', ARGV[3])
if ARGV[4] ~= '' then redis.call('PEXPIREAT', KEYS[2], ARGV[4]) end
local base = string.sub(KEYS[2], 1, #KEYS[2] - #ARGV[5])
for _, d in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('EXISTS', base .. d) == 0 then redis.call('SREM', KEYS[3], d) end
end
redis.call('SADD', KEYS[3], ARGV[5])
return 1
"""

# KEYS[1] users hash, KEYS[2] user's token set; ARGV[1] username, ARGV[2] token key base
_REMOVE_USER = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
for _, d in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[2] .. d) end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS[1] token key; ARGV[1] user token-set base, ARGV[2] digest
_REVOKE_TOKEN = """
local name = redis.call('HGET', KEYS[1], 'username')
if not name then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. name, ARGV[2])
return 1
"""

# KEYS[1] token key, KEYS[2] users hash -> {username, expires_at, user json} or nil
_LOOKUP = """
local t = redis.call('HMGET', KEYS[1], 'username', 'expires_at')
if not t[1] then return nil end
local u = redis.call('HGET', KEYS[2], t[1])
if not u then return nil end
return {t[1], t[2], u}
"""


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Map Redis connectivity failures to the retryable ``Unavailable`` (HTTP 503)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise Unavailable(f"user store (Redis) unavailable: {exc}") from None


class RedisUserStore:
    """:class:`tk9.accounts.store.UserStore` in Redis at ``url`` (keys under ``prefix``)."""

    def __init__(
        self, url: str, *, prefix: str = "tk9", hasher: PasswordHasher | None = None
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._r = redis.Redis.from_url(url, decode_responses=True)
        base = f"{prefix}:{{users}}"
        self._users_key = f"{base}:users"
        self._token_base = f"{base}:t:"
        self._user_tokens_base = f"{base}:ut:"
        self._create = self._r.register_script(_CREATE_TOKEN)
        self._remove = self._r.register_script(_REMOVE_USER)
        self._revoke = self._r.register_script(_REVOKE_TOKEN)
        self._lookup = self._r.register_script(_LOOKUP)
        # a dummy hash, verified when the user is unknown, so timing does not reveal names
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def add_user(self, username: str, password: str, *, admin: bool = False) -> User:
        check_username(username)
        digest = self._hasher.hash(check_password(password))
        record = json.dumps({"hash": digest, "admin": admin, "created_at": time.time()})
        with _errors():
            added = self._r.hsetnx(self._users_key, username, record)
        if not added:
            raise Conflict(f"user {username!r} already exists")
        return User(username, admin)

    def list_users(self) -> list[User]:
        with _errors():
            rows = cast(dict[str, str], self._r.hgetall(self._users_key))
        return [User(name, bool(json.loads(rows[name])["admin"])) for name in sorted(rows)]

    def remove_user(self, username: str) -> None:
        keys = [self._users_key, self._user_tokens_base + username]
        with _errors():
            removed = self._remove(keys=keys, args=[username, self._token_base])
        if not removed:
            raise UserNotFound(f"no user {username!r}")

    def verify_password(self, username: str, password: str) -> User | None:
        with _errors():
            raw = cast(str | None, self._r.hget(self._users_key, username))
        record: dict[str, Any] | None = json.loads(raw) if raw else None
        try:
            self._hasher.verify(record["hash"] if record else self._dummy, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        return User(username, bool(record["admin"])) if record else None

    def create_token(
        self, username: str, kind: TokenKind = "api", expires_at: float | None = None
    ) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_digest(token)
        pexpire = ""
        if expires_at is not None and expires_at > time.time():
            pexpire = str(int(expires_at * 1000) + 1)  # Redis may drop it only once expired
        keys = [self._users_key, self._token_base + digest, self._user_tokens_base + username]
        args = [username, kind, "" if expires_at is None else repr(expires_at), pexpire, digest]
        with _errors():
            created = self._create(keys=keys, args=args)
        if not created:
            raise UserNotFound(f"no user {username!r}")
        return token

    def revoke_token(self, token: str) -> bool:
        digest = token_digest(token)
        with _errors():
            found = self._revoke(
                keys=[self._token_base + digest], args=[self._user_tokens_base, digest]
            )
        return bool(found)

    def user_for_token(self, token: str, now: float) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return None
        keys = [self._token_base + token_digest(token), self._users_key]
        with _errors():
            row = cast(list[str] | None, self._lookup(keys=keys, args=[]))
        if row is None:
            return None
        username, expires_at, record = row
        if expires_at and float(expires_at) <= now:
            return None
        return User(username, bool(json.loads(record)["admin"]))

    def close(self) -> None:
        self._r.close()
