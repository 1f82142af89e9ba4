"""Build the configured :class:`~tk9.log.base.EventLog` from :class:`~tk9.settings.Settings`.

``log_backend`` picks the backend: ``sqlite`` (default; at ``settings.db_path``, creating the
data directory), ``memory`` (nothing persists) or ``redis`` (at ``settings.redis_url``, for
several server processes sharing one log). The returned log is not opened yet: call
``await log.open()`` (or use it as an async context manager).
"""

from __future__ import annotations

from tk9.clock import Clock
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.redis import RedisEventLog
from tk9.log.sqlite import SqliteEventLog
from tk9.settings import Settings


def make_event_log(settings: Settings, clock: Clock | None = None) -> EventLog:
    """The event log ``settings`` ask for, unopened."""
    if settings.log_backend == "memory":
        return MemoryEventLog(clock=clock)
    if settings.log_backend == "redis":
        return RedisEventLog(settings.redis_url, clock=clock)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteEventLog(
        settings.db_path,
        synchronous=settings.sqlite_synchronous,
        tail_cache_size=settings.tail_cache_size,
        clock=clock,
    )
