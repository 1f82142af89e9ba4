"""The kept snapshot: stored snapshot + the events after it == the fold of the whole log."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.projection.strategies import payloads
from tests.server.conftest import make_settings
from tk9.clock import FakeClock
from tk9.events import EventType, Payload
from tk9.log.base import EventLog, append_payload
from tk9.log.delegate import DelegatingLog
from tk9.log.memory import MemoryEventLog
from tk9.log.snapshot_store import MemorySnapshotStore
from tk9.log.sqlite import SqliteEventLog
from tk9.projection import project
from tk9.server.app import create_app
from tk9.server.snapshots import SAVE_EVERY, SnapshotCache, SnapshotKeeper
from tk9.state import SessionState

LOG = EventType.LOG
META = {"subject": "bees", "language": "en", "created_at": 5.0}


class CountingLog(DelegatingLog):
    """Records the cursor of every ``read``."""

    def __init__(self, inner: EventLog) -> None:
        super().__init__(inner)
        self.reads: list[int] = []

    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Any]:
        self.reads.append(after)
        return await self.inner.read(session_id, after, limit)


async def full_fold(log: EventLog, sid: str) -> SessionState:
    info = await log.info(sid)
    return project(sid, info.epoch, await log.read(sid, 0, 100_000), info.meta)


def msg(i: int) -> dict[str, Any]:
    return {"level": "info", "message": f"line {i}"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, max_size=60), st.data())
def test_stored_snapshot_plus_tail_equals_the_full_fold(
    events: list[Payload], data: st.DataObject
) -> None:
    split = data.draw(st.integers(min_value=0, max_value=len(events)), label="stored at")

    async def scenario() -> None:
        log = MemoryEventLog(clock=FakeClock())
        store = MemorySnapshotStore()
        await log.create("s", META)
        for payload in events[:split]:
            await append_payload(log, "s", payload)
        await SnapshotCache(log, store, save_every=1).get("s")
        for payload in events[split:]:
            await append_payload(log, "s", payload)

        counting = CountingLog(log)
        cold = await SnapshotCache(counting, store).get("s")
        assert cold == await full_fold(log, "s")
        assert all(after >= split for after in counting.reads)

    asyncio.run(scenario())


async def test_appends_keep_the_stored_snapshot_near_the_head() -> None:
    store = MemorySnapshotStore()
    inner = MemoryEventLog(clock=FakeClock())
    log = SnapshotKeeper(inner, SnapshotCache(inner, store, save_every=10))
    await log.create("s", META)
    for i in range(95):
        await log.append("s", LOG, msg(i))
    await log.append_many("s", [(LOG, msg(i)) for i in range(95, 120)])
    stored = await store.load("s")
    assert stored is not None
    assert 120 - 10 < stored.seq <= 120
    assert stored == project("s", stored.epoch, await inner.read("s", 0, stored.seq), META)

    counting = CountingLog(inner)
    assert await SnapshotCache(counting, store).get("s") == await full_fold(inner, "s")
    assert counting.reads == ([] if stored.seq == 120 else [stored.seq])


async def test_sessions_started_together_store_their_first_snapshots_apart() -> None:
    store = MemorySnapshotStore()
    inner = MemoryEventLog(clock=FakeClock())
    log = SnapshotKeeper(inner, SnapshotCache(inner, store, save_every=40))
    sids = [f"session-{i}" for i in range(20)]
    for sid in sids:
        await log.create(sid, META)
    first: dict[str, int] = {}
    for n in range(1, 61):  # every session appends in lockstep, like a benchmark's
        for sid in sids:
            await log.append(sid, LOG, msg(n))
            if sid not in first and await store.load(sid) is not None:
                first[sid] = n
    assert set(first) == set(sids)
    assert all(40 <= n < 60 for n in first.values())  # within [save_every, 1.5 x save_every)
    assert len(set(first.values())) >= 10  # spread, not all at the same append


async def test_a_snapshot_of_another_stream_or_past_the_head_is_not_used() -> None:
    store = MemorySnapshotStore()
    log = MemoryEventLog(clock=FakeClock())
    await log.create("s", META)
    for i in range(5):
        await log.append("s", LOG, msg(i))
    real = await SnapshotCache(log, store, save_every=1).get("s")

    await store.save(real.model_copy(update={"epoch": "gone", "seq": 3, "progress": 99}))
    assert await SnapshotCache(log, store).get("s") == real
    await store.save(real.model_copy(update={"seq": 50, "progress": 99}))
    assert await SnapshotCache(log, store).get("s") == real


async def test_deleting_the_session_deletes_its_stored_snapshot() -> None:
    store = MemorySnapshotStore()
    inner = MemoryEventLog(clock=FakeClock())
    log = SnapshotKeeper(inner, SnapshotCache(inner, store, save_every=2))
    await log.create("s", META)
    await log.append_many("s", [(LOG, msg(i)) for i in range(4)])
    assert await store.load("s") is not None
    await log.delete("s")
    assert await store.load("s") is None


class BrokenStore(MemorySnapshotStore):
    async def save(self, state: SessionState) -> None:
        raise ConnectionError("store down")


async def test_a_store_that_fails_never_fails_the_append() -> None:
    inner = MemoryEventLog(clock=FakeClock())
    log = SnapshotKeeper(inner, SnapshotCache(inner, BrokenStore(), save_every=1))
    await log.create("s", META)
    event = await log.append("s", LOG, msg(0))
    assert event.seq == 1
    assert (await inner.info("s")).last_seq == 1


@pytest.mark.parametrize("capacity", [1])
async def test_an_evicted_session_restarts_from_its_stored_snapshot(capacity: int) -> None:
    store = MemorySnapshotStore()
    inner = MemoryEventLog(clock=FakeClock())
    cache = SnapshotCache(inner, store, capacity=capacity, save_every=4)
    log = SnapshotKeeper(inner, cache)
    for sid in ("a", "b"):
        await log.create(sid, META)
    for i in range(10):
        await log.append("a", LOG, msg(i))
        await log.append("b", LOG, msg(i))
    for sid in ("a", "b"):
        assert await cache.get(sid) == await full_fold(inner, sid)


async def test_the_json_answer_is_the_state_and_follows_new_events() -> None:
    log = MemoryEventLog(clock=FakeClock())
    cache = SnapshotCache(log, MemorySnapshotStore())
    await log.create("s", META)
    await log.append("s", LOG, msg(0))
    body = await cache.get_json("s")
    assert json.loads(body) == (await cache.get("s")).model_dump(mode="json")
    assert await cache.get_json("s") is body
    await log.append("s", LOG, msg(1))
    assert json.loads(await cache.get_json("s"))["seq"] == 2


def test_a_restarted_server_answers_from_the_stored_snapshot(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, demo_events=0)
    with TestClient(create_app(settings)) as client:
        sid = client.post("/api/sessions", json={"subject": "Long one", "language": "en"}).json()[
            "session_id"
        ]
        events = [{"event_type": "log", "payload": msg(i)} for i in range(700)]
        client.post(f"/api/_test/append/{sid}", json={"events": events}).raise_for_status()
    with TestClient(create_app(settings)) as client:
        answer = client.get(f"/api/sessions/{sid}").json()

    async def from_the_log() -> SessionState:
        async with SqliteEventLog(settings.db_path) as log:
            return await full_fold(log, sid)

    assert answer == asyncio.run(from_the_log()).model_dump(mode="json")
    stored = sqlite3.connect(settings.db_path).execute(
        "SELECT seq FROM snapshots WHERE session_id = ?", (sid,)
    )
    assert stored.fetchone()[0] > answer["seq"] - SAVE_EVERY
