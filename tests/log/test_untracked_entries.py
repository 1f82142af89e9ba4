"""Entries a log keeps in memory are out of the cyclic collector's walks.

A pydantic event and its payload's dicts and lists are tracked objects; a log that kept them
(the SQLite tail cache, the memory log's whole stream) made every young and middle collection
walk them, a stall of every live stream at high append rates (docs/benchmarks.md, "The tail
cache and the collector"). The logs keep each entry's JSON text, which the collector does not
track, and build events only for a reader.
"""

from __future__ import annotations

import gc
from pathlib import Path

from tk9.clock import FakeClock
from tk9.events import Event, EventType
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.sqlite import SqliteEventLog


def _tracked_events() -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Event))


async def _kept_events_tracked(log: EventLog) -> tuple[int, list[Event]]:
    """Append 50 events with nested payloads, drop every reference the caller holds, and
    return how many :class:`Event` objects the collector still tracks, and a read-back."""
    await log.create("s1", {})
    gc.collect()
    before = _tracked_events()
    for i in range(50):
        await log.append("s1", EventType.LOG, {"message": f"m{i}", "nested": {"n": [i, i + 1]}})
    gc.collect()
    kept = _tracked_events() - before
    return kept, await log.read("s1", 0, 100)


async def test_memory_log_keeps_no_tracked_event() -> None:
    async with MemoryEventLog(clock=FakeClock()) as log:
        kept, events = await _kept_events_tracked(log)
    assert kept == 0
    assert [e.seq for e in events] == list(range(1, 51))
    assert events[7].payload == {"message": "m7", "nested": {"n": [7, 8]}}


async def test_sqlite_tail_cache_keeps_no_tracked_event(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "log.sqlite3", tail_cache_size=64, clock=FakeClock())
    async with log:
        kept, events = await _kept_events_tracked(log)
        assert log.stats()["db_reads"] == 0  # the read was served by the cache
        entries = await log.read_entries("s1", 10, 5)
    assert kept <= 1  # the writer thread's last job holds its result until the next job
    assert [e.seq for e in events] == list(range(1, 51))
    assert events[7].payload == {"message": "m7", "nested": {"n": [7, 8]}}
    assert [e.to_json() for e in entries] == [e.to_json() for e in events[10:15]]


async def test_event_from_text_is_the_event() -> None:
    async with MemoryEventLog(clock=FakeClock(wall_start=1.25)) as log:
        await log.create("s1", {})
        appended = await log.append("s1", EventType.LOG, {"message": "é\n", "x": [1.5, None]})
    rebuilt = Event.from_text(appended.seq, appended.epoch, appended.to_json())
    assert rebuilt == appended
    assert rebuilt.to_json() == appended.to_json()
    assert rebuilt.event_type is EventType.LOG
