"""The contract every ``SnapshotStore`` backend (memory, SQLite, Redis) must pass.

Each store runs beside the event log of its kind: the SQLite store shares the log's database
file, the Redis store the log's server, so these tests also check that the two live together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tk9.errors import InvalidInput
from tk9.events import EventType
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.redis import RedisEventLog
from tk9.log.snapshot_store import (
    MemorySnapshotStore,
    RedisSnapshotStore,
    SnapshotStore,
    SqliteSnapshotStore,
)
from tk9.log.sqlite import SqliteEventLog
from tk9.projection import fold, initial_state
from tk9.state import SessionState

from .conftest import BACKENDS
from .redis_server import RedisServer


@dataclass
class Pair:
    """How to build (and rebuild, on the same storage) a log and its snapshot store."""

    kind: str
    make_log: Callable[[], EventLog]
    make_store: Callable[[], SnapshotStore]


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Pair:
    if request.param == "memory":
        store = MemorySnapshotStore()
        return Pair("memory", MemoryEventLog, lambda: store)
    if request.param == "sqlite":
        path = tmp_path / "log.sqlite3"
        return Pair("sqlite", lambda: SqliteEventLog(path), lambda: SqliteSnapshotStore(path))
    server: RedisServer = request.getfixturevalue("redis_server")
    server.flush()
    return Pair("redis", lambda: RedisEventLog(server.url), lambda: RedisSnapshotStore(server.url))


@pytest.fixture
async def log(pair: Pair) -> AsyncIterator[EventLog]:
    async with pair.make_log() as opened:
        yield opened


@pytest.fixture
async def store(pair: Pair, log: EventLog) -> AsyncIterator[SnapshotStore]:
    opened = pair.make_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def folded(log: EventLog, sid: str, n: int) -> SessionState:
    """Append ``n`` varied events to a new stream ``sid`` and return their fold."""
    info = await log.create(sid, {"subject": "bees"})
    kinds = [
        (EventType.RESEARCH_STATUS, {"status": "running", "progress": 10, "stage": "s"}),
        (EventType.AGENT_UPDATE, {"agent": "Browser", "status": "running", "progress": 5}),
        (EventType.LOG, {"level": "info", "message": "héllo ✓", "agent": "Browser"}),
        (EventType.ERROR, {"code": "boom", "message": "m", "agent": None}),
    ]
    for i in range(n):
        kind, payload = kinds[i % len(kinds)]
        await log.append(sid, kind, payload)
    state = initial_state(sid, info.epoch, subject="bees")
    return fold(await log.read(sid, 0, 10_000), state)


async def test_unknown_session_loads_none(store: SnapshotStore) -> None:
    assert await store.load("nobody") is None


async def test_save_then_load_round_trips_every_field(log: EventLog, store: SnapshotStore) -> None:
    state = await folded(log, "s1", 9)
    await store.save(state)
    loaded = await store.load("s1")
    assert loaded == state
    assert loaded is not state


async def test_an_older_or_equal_seq_of_the_same_epoch_changes_nothing(
    log: EventLog, store: SnapshotStore
) -> None:
    newer = await folded(log, "s1", 6)
    older = newer.model_copy(update={"seq": 4, "progress": 1})
    same = newer.model_copy(update={"progress": 2})
    await store.save(newer)
    await store.save(older)
    await store.save(same)
    assert await store.load("s1") == newer


async def test_a_newer_seq_replaces(log: EventLog, store: SnapshotStore) -> None:
    state = await folded(log, "s1", 6)
    await store.save(state.model_copy(update={"seq": 3}))
    await store.save(state)
    assert await store.load("s1") == state


async def test_another_epoch_replaces_whatever_its_seq(log: EventLog, store: SnapshotStore) -> None:
    old = await folded(log, "s1", 6)
    recreated = initial_state("s1", "other-epoch", subject="wasps")
    await store.save(old)
    await store.save(recreated)
    assert await store.load("s1") == recreated


async def test_sessions_are_independent_and_delete_forgets_one(
    log: EventLog, store: SnapshotStore
) -> None:
    a = await folded(log, "a", 3)
    b = await folded(log, "b", 5)
    await store.save(a)
    await store.save(b)
    await store.delete("a")
    await store.delete("a")  # unknown now: a no-op
    await store.delete("never-saved")
    assert await store.load("a") is None
    assert await store.load("b") == b


async def test_malformed_session_ids_are_invalid_input(store: SnapshotStore) -> None:
    with pytest.raises(InvalidInput):
        await store.load("bad id/..")
    with pytest.raises(InvalidInput):
        await store.delete("")
    with pytest.raises(InvalidInput):
        await store.save(initial_state("no spaces", "e"))


async def test_the_log_keeps_working_beside_the_store(log: EventLog, store: SnapshotStore) -> None:
    state = await folded(log, "s1", 4)
    for _ in range(3):
        await log.append("s1", EventType.LOG, {"level": "info", "message": "more"})
        state = fold(await log.read("s1", state.seq), state)
        await store.save(state)
    assert (await log.info("s1")).last_seq == 7
    assert await store.load("s1") == state
    assert len(await log.read("s1", 0)) == 7


async def test_a_stored_snapshot_survives_reopening(pair: Pair, tmp_path: Path) -> None:
    if pair.kind == "memory":
        pytest.skip("the memory store keeps nothing across processes by design")
    async with pair.make_log() as log:
        state = await folded(log, "s1", 5)
        first = pair.make_store()
        await first.open()
        await first.open()  # idempotent
        await first.save(state)
        await first.close()
    second = pair.make_store()
    await second.open()
    try:
        assert await second.load("s1") == state
    finally:
        await second.close()


async def test_a_cold_reader_folds_only_the_events_after_the_stored_snapshot(
    log: EventLog, store: SnapshotStore
) -> None:
    """What a restarted server or another process sharing the log does, on every backend."""
    from tk9.server.snapshots import SnapshotCache, SnapshotKeeper, state_from_info

    keeper = SnapshotKeeper(log, SnapshotCache(log, store, save_every=8))
    await log.create("s1", {"subject": "bees"})
    for i in range(30):
        await keeper.append("s1", EventType.LOG, {"level": "info", "message": f"m{i}"})
    stored = await store.load("s1")
    assert stored is not None and 30 - 8 < stored.seq <= 30

    reads: list[int] = []
    real_read = log.read

    async def counted(session_id: str, after: int, limit: int = 1000) -> list[Any]:
        reads.append(after)
        return await real_read(session_id, after, limit)

    log.read = counted  # type: ignore[method-assign]
    cold = await SnapshotCache(log, store).get("s1")
    log.read = real_read  # type: ignore[method-assign]
    empty = state_from_info(await log.info("s1"))
    assert cold == fold(await log.read("s1", 0, 100), empty)
    assert reads in ([], [stored.seq])
