"""``make_event_log`` picks and configures the backend from Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tk9.clock import FakeClock
from tk9.events import EventType
from tk9.log.factory import make_event_log
from tk9.log.memory import MemoryEventLog
from tk9.log.redis import RedisEventLog
from tk9.log.sqlite import SqliteEventLog
from tk9.settings import Settings

from .redis_server import RedisServer


def settings(**kw: Any) -> Settings:
    return Settings(_env_file=None, **kw)  # type: ignore[call-arg]


async def test_sqlite_is_the_default_and_creates_the_data_dir(tmp_path: Path) -> None:
    s = settings(data_dir=tmp_path / "new" / "data", sqlite_synchronous="NORMAL", tail_cache_size=7)
    log = make_event_log(s, FakeClock())
    assert isinstance(log, SqliteEventLog)
    assert (log.path, log.synchronous, log.tail_cache_size) == (s.db_path, "NORMAL", 7)
    assert s.data_dir.is_dir()
    async with log:
        event = await log.append((await log.create("s", {})).session_id, EventType.LOG, {})
        assert event.timestamp == FakeClock().wall()
    assert s.db_path.exists()


async def test_memory_backend() -> None:
    assert isinstance(make_event_log(settings(log_backend="memory")), MemoryEventLog)


async def test_redis_backend(redis_server: RedisServer) -> None:
    log = make_event_log(settings(log_backend="redis", redis_url=redis_server.url))
    assert isinstance(log, RedisEventLog)
    async with log:
        assert isinstance(await log.list_streams(), list)
