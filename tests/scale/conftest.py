"""Scale-out fixtures: the run's one ``redis-server`` (tests/conftest.py), emptied per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.log.redis_server import RedisServer


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    redis_server.flush()
    client = Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()
