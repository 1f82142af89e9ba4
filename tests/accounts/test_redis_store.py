"""What only the Redis store does: its keys' lifetimes, and a Redis that cannot be reached."""

from __future__ import annotations

import time

import pytest
import redis

from tests.log.redis_server import RedisServer, free_port
from tk9.accounts.redis_store import RedisUserStore
from tk9.accounts.store import token_digest
from tk9.errors import Unavailable

from .conftest import FAST_HASHER

pytestmark = pytest.mark.redis


def test_cookies_expiring_ahead_get_a_redis_ttl_and_api_tokens_do_not(
    redis_server: RedisServer,
) -> None:
    redis_server.flush()
    store = RedisUserStore(redis_server.url, hasher=FAST_HASHER)
    try:
        store.add_user("alice", "correct horse battery")
        api = store.create_token("alice")
        cookie = store.create_token("alice", "cookie", expires_at=time.time() + 3600)
        old = store.create_token("alice", "cookie", expires_at=100.0)  # a fake clock's past
        with redis.Redis.from_url(redis_server.url) as r:

            def ttl(token: str) -> int:
                return int(r.pttl(f"tk9:{{users}}:t:{token_digest(token)}"))

            assert ttl(api) == -1
            assert 0 < ttl(cookie) <= 3_600_001
            assert ttl(old) == -1  # left to the caller's clock, which the store cannot see
    finally:
        store.close()


def test_an_unreachable_redis_is_unavailable_not_a_crash() -> None:
    store = RedisUserStore(f"redis://127.0.0.1:{free_port()}/0", hasher=FAST_HASHER)
    try:
        with pytest.raises(Unavailable, match="user store"):
            store.list_users()
        with pytest.raises(Unavailable):
            store.user_for_token("tk9_" + "a" * 43, now=0)
    finally:
        store.close()
