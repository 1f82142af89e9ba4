"""Fixtures for the user-store suites: every ``UserStore`` implementation, over real storage.

``store_case`` is parametrized over SQLite (a file in ``tmp_path``) and Redis (a real
``redis-server``, the run's one from tests/conftest.py, flushed per test), so one contract
suite holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from argon2 import PasswordHasher

from tests.log.redis_server import RedisServer
from tk9.accounts.redis_store import RedisUserStore
from tk9.accounts.store import SqliteUserStore, UserStore

# argon2id with small costs: the suite checks behaviour, not hashing strength
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@dataclass
class StoreCase:
    """One implementation: ``make`` opens a store on the shared storage (call it twice for
    two nodes); ``dump`` is every stored byte as text, to look for secrets in it."""

    kind: str
    make: Callable[[], UserStore]
    dump: Callable[[], str]


def _sqlite_case(tmp_path: Path) -> StoreCase:
    path = tmp_path / "tk9.sqlite3"

    def dump() -> str:
        return path.read_bytes().decode("latin-1") + "".join(
            p.read_bytes().decode("latin-1") for p in tmp_path.glob("tk9.sqlite3-*")
        )

    return StoreCase("sqlite", lambda: SqliteUserStore(path, FAST_HASHER), dump)


def _redis_case(server: RedisServer) -> StoreCase:
    server.flush()

    def dump() -> str:
        with redis.Redis.from_url(server.url, decode_responses=True) as r:
            parts: list[str] = []
            for key in r.scan_iter("*"):
                parts.append(key)
                kind = r.type(key)
                if kind == "hash":
                    parts.extend(f"{k}={v}" for k, v in r.hgetall(key).items())
                elif kind == "set":
                    parts.extend(r.smembers(key))
                else:
                    parts.append(str(r.get(key)))
            return "\n".join(parts)

    return StoreCase("redis", lambda: RedisUserStore(server.url, hasher=FAST_HASHER), dump)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    if request.param == "sqlite":
        return _sqlite_case(tmp_path)
    return _redis_case(request.getfixturevalue("redis_server"))


@pytest.fixture
def store(store_case: StoreCase) -> Iterator[UserStore]:
    opened = store_case.make()
    try:
        yield opened
    finally:
        opened.close()
