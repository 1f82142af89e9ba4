"""Fixtures for the event-log suites: each backend, opened, over a FakeClock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tk9.clock import FakeClock
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.redis import RedisEventLog
from tk9.log.sqlite import SqliteEventLog

from .redis_server import RedisServer

BACKENDS = ["memory", "sqlite", "redis"]
DURABLE_BACKENDS = ["sqlite", "redis"]


@dataclass
class Backend:
    """How to build (and rebuild, on the same storage) one backend under test."""

    kind: str
    clock: FakeClock
    make: Callable[[], EventLog]


def _backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    clock = FakeClock()
    if kind == "memory":
        return Backend(kind, clock, lambda: MemoryEventLog(clock=clock))
    if kind == "sqlite":
        path = tmp_path / "log.sqlite3"
        return Backend(kind, clock, lambda: SqliteEventLog(path, tail_cache_size=8, clock=clock))
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return Backend(kind, clock, lambda: RedisEventLog(server.url, clock=clock, watcher_linger=0.05))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _backend(request.param, request, tmp_path)


@pytest.fixture(params=DURABLE_BACKENDS)
def durable_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _backend(request.param, request, tmp_path)


@pytest.fixture
async def log(backend: Backend) -> AsyncIterator[EventLog]:
    async with backend.make() as opened:
        yield opened
