"""Property: SQLite behaves exactly like the memory reference for random operation sequences."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tk9.clock import FakeClock
from tk9.errors import Tk9Error
from tk9.events import EventType
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.sqlite import SqliteEventLog

SESSIONS = ["a", "b", "c"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
ops = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(SESSIONS)),
    st.tuples(
        st.just("append"),
        st.sampled_from(SESSIONS),
        st.sampled_from(list(EventType)),
        st.dictionaries(st.text(max_size=4), json_values, max_size=3),
    ),
    st.tuples(
        st.just("read"),
        st.sampled_from(SESSIONS),
        st.integers(min_value=-1, max_value=25),
        st.integers(min_value=0, max_value=8),
    ),
    st.tuples(st.just("trim"), st.sampled_from(SESSIONS), st.integers(min_value=0, max_value=25)),
    st.tuples(st.just("delete"), st.sampled_from(SESSIONS)),
    st.tuples(st.just("info"), st.sampled_from(SESSIONS)),
)


async def _apply(log: EventLog, op: tuple[Any, ...]) -> Any:
    """The observable outcome of one operation, epoch-free (epochs are random by design)."""
    try:
        match op:
            case ("create", sid):
                info = await log.create(sid, {"sid": sid})
                return ("created", info.first_seq, info.last_seq, info.meta)
            case ("append", sid, kind, payload):
                event = await log.append(sid, kind, payload)
                return ("appended", event.seq, event.timestamp, event.payload)
            case ("read", sid, after, limit):
                events = await log.read(sid, after, limit)
                return [(e.seq, e.timestamp, e.event_type, e.payload) for e in events]
            case ("trim", sid, before):
                info = await log.trim(sid, before)
                return ("trimmed", info.first_seq, info.last_seq)
            case ("delete", sid):
                await log.delete(sid)
                return "deleted"
            case ("info", sid):
                info = await log.info(sid)
                return (info.first_seq, info.last_seq, info.meta)
    except Tk9Error as exc:
        return type(exc).__name__
    raise AssertionError(op)


async def _compare(operations: list[tuple[Any, ...]], path: Path) -> None:
    clock = FakeClock()
    async with (
        MemoryEventLog(clock=clock) as memory,
        SqliteEventLog(path, tail_cache_size=3, clock=clock) as sqlite,
    ):
        for op in operations:
            clock.advance(0.25)
            assert await _apply(memory, op) == await _apply(sqlite, op), op
        for sid in SESSIONS:
            assert await _apply(memory, ("read", sid, 0, 1000)) == await _apply(
                sqlite, ("read", sid, 0, 1000)
            )
        assert [s.session_id for s in await memory.list_streams()] == [
            s.session_id for s in await sqlite.list_streams()
        ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=40))
def test_sqlite_matches_memory(operations: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_compare(operations, Path(tmp) / "log.sqlite3"))
