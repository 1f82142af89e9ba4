"""The one contract every EventLog backend (memory, SQLite, Redis Streams) must pass."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import pytest

from tk9.errors import Conflict, InvalidInput, SessionNotFound
from tk9.events import Event, EventType
from tk9.log.base import EventLog

from .conftest import Backend

LOG = EventType.LOG
BOUND = 5.0
"""Upper bound for things that should happen at once; never a fixed wait."""


def msg(i: int) -> dict[str, Any]:
    return {"level": "info", "message": f"m{i}"}


async def fill(log: EventLog, sid: str, n: int) -> None:
    for i in range(n):
        await log.append(sid, LOG, msg(i))


# --- streams -----------------------------------------------------------------------------------


async def test_create_then_info(log: EventLog, backend: Backend) -> None:
    info = await log.create("s1", {"topic": "bees", "n": 1})
    assert info.session_id == "s1"
    assert info.epoch and isinstance(info.epoch, str)
    assert (info.first_seq, info.last_seq) == (1, 0)
    assert info.created_at == backend.clock.wall()
    assert info.meta == {"topic": "bees", "n": 1}
    assert await log.info("s1") == info


async def test_duplicate_create_conflicts_and_changes_nothing(log: EventLog) -> None:
    first = await log.create("s1", {"a": 1})
    await log.append("s1", LOG, msg(1))
    with pytest.raises(Conflict):
        await log.create("s1", {"a": 2})
    info = await log.info("s1")
    assert (info.epoch, info.last_seq, info.meta) == (first.epoch, 1, {"a": 1})


async def test_each_new_stream_has_its_own_epoch(log: EventLog) -> None:
    a = await log.create("a", {})
    b = await log.create("b", {})
    assert a.epoch != b.epoch


async def test_unknown_session_raises_everywhere(log: EventLog) -> None:
    await log.create("known", {})
    calls = [
        log.info("nope"),
        log.update_meta("nope", {"x": 1}),
        log.delete("nope"),
        log.append("nope", LOG, msg(0)),
        log.read("nope", 0),
        log.wait("nope", 0, 0.01),
        log.trim("nope", 1),
    ]
    for call in calls:
        with pytest.raises(SessionNotFound):
            await call
    assert [s.session_id for s in await log.list_streams()] == ["known"]


@pytest.mark.parametrize("bad_id", ["", "a b", "x/y", "é", "a" * 129])
async def test_bad_session_id_is_invalid_input(log: EventLog, bad_id: str) -> None:
    with pytest.raises(InvalidInput):
        await log.create(bad_id, {})
    assert await log.list_streams() == []


async def test_bad_arguments_are_invalid_input_and_change_nothing(log: EventLog) -> None:
    await log.create("s", {})
    await log.append("s", LOG, msg(1))
    bad = [
        log.read("s", -1),
        log.read("s", 0, limit=0),
        log.wait("s", -1, 0.01),
        log.wait("s", 0, -1.0),
        log.wait("s", 0, math.nan),
        log.append("s", "no_such_type", {}),  # type: ignore[arg-type]
        log.append("s", LOG, {"x": math.nan}),
        log.append("s", LOG, {"x": object()}),
        log.append("s", LOG, ["not", "a", "dict"]),  # type: ignore[arg-type]
        log.update_meta("s", {"x": math.inf}),
        log.trim("s", 0),
    ]
    for call in bad:
        with pytest.raises(InvalidInput):
            await call
    info = await log.info("s")
    assert (info.first_seq, info.last_seq, info.meta) == (1, 1, {})
    assert [e.seq for e in await log.read("s", 0)] == [1]


async def test_list_is_newest_first(log: EventLog, backend: Backend) -> None:
    for sid in ["a", "b", "c"]:
        await log.create(sid, {"name": sid})
        backend.clock.advance(1)
    listed = await log.list_streams()
    assert [s.session_id for s in listed] == ["c", "b", "a"]
    assert [s.meta["name"] for s in listed] == ["c", "b", "a"]


async def test_update_meta_merges_top_level_keys(log: EventLog) -> None:
    await log.create("s", {"status": "pending", "topic": "t", "nested": {"a": 1}})
    await log.update_meta("s", {"status": "running", "nested": {"b": 2}, "extra": [1, 2]})
    meta = (await log.info("s")).meta
    assert meta == {"status": "running", "topic": "t", "nested": {"b": 2}, "extra": [1, 2]}
    assert (await log.list_streams())[0].meta == meta


async def test_delete_removes_and_the_id_can_be_reused(log: EventLog) -> None:
    old = await log.create("s", {"v": 1})
    await fill(log, "s", 3)
    await log.create("other", {})
    await log.delete("s")
    with pytest.raises(SessionNotFound):
        await log.info("s")
    with pytest.raises(SessionNotFound):
        await log.read("s", 0)
    assert [s.session_id for s in await log.list_streams()] == ["other"]
    new = await log.create("s", {"v": 2})
    assert new.epoch != old.epoch
    assert (new.last_seq, new.meta) == (0, {"v": 2})
    assert (await log.append("s", LOG, msg(0))).seq == 1
    assert [e.seq for e in await log.read("s", 0)] == [1]


# --- append / read -----------------------------------------------------------------------------


async def test_seq_starts_at_one_and_increases(log: EventLog, backend: Backend) -> None:
    info = await log.create("s", {})
    seqs = []
    for i in range(12):
        backend.clock.advance(0.5)
        event = await log.append("s", LOG, msg(i))
        assert event.epoch == info.epoch
        assert event.timestamp == backend.clock.wall()
        assert event.event_type is LOG
        seqs.append(event.seq)
    assert seqs == list(range(1, 13))
    assert (await log.info("s")).last_seq == 12
    read = await log.read("s", 0)
    assert [e.seq for e in read] == seqs
    assert [e.payload["message"] for e in read] == [f"m{i}" for i in range(12)]


async def test_read_after_and_limit(log: EventLog) -> None:
    await log.create("s", {})
    await fill(log, "s", 20)
    assert [e.seq for e in await log.read("s", 0, limit=3)] == [1, 2, 3]
    assert [e.seq for e in await log.read("s", 3, limit=2)] == [4, 5]
    assert [e.seq for e in await log.read("s", 15)] == [16, 17, 18, 19, 20]
    assert [e.seq for e in await log.read("s", 18, limit=1000)] == [19, 20]
    assert await log.read("s", 20) == []
    assert await log.read("s", 10_000) == []
    # paging through with a small limit yields everything exactly once
    got, cursor = [], 0
    while batch := await log.read("s", cursor, limit=3):
        got += [e.seq for e in batch]
        cursor = batch[-1].seq
    assert got == list(range(1, 21))


async def test_read_of_an_empty_stream(log: EventLog) -> None:
    await log.create("s", {})
    assert await log.read("s", 0) == []


async def test_read_returns_events_equal_to_append_results(log: EventLog) -> None:
    await log.create("s", {})
    appended = [await log.append("s", LOG, msg(i)) for i in range(15)]
    assert await log.read("s", 0) == appended
    assert await log.read("s", 2, limit=4) == appended[2:6]


async def test_payload_round_trips_json_exactly(log: EventLog) -> None:
    await log.create("s", {"unicode": "日本語 ✓", "list": [1, None]})
    payload: dict[str, Any] = {
        "text": 'quote " backslash \\ newline \n emoji 🐝 nul-free',
        "int": 2**53 + 1,
        "neg": -7,
        "float": 0.1 + 0.2,
        "tiny": 5e-324,
        "bools": [True, False, None],
        "nested": {"a": [{"b": {}}, []], "": "empty key"},
        "tuple": (1, 2),
    }
    event = await log.append("s", EventType.AGENT_UPDATE, payload)
    expected = dict(payload, tuple=[1, 2])
    assert event.payload == expected
    [read] = await log.read("s", 0)
    assert read.payload == expected
    assert read.event_type is EventType.AGENT_UPDATE
    assert (await log.info("s")).meta == {"unicode": "日本語 ✓", "list": [1, None]}


async def test_read_entries_are_the_entries_of_read_as_json_text(log: EventLog) -> None:
    """``read_entries`` (the replay's read) returns what ``read`` does — same seqs, same epoch,
    the same JSON text of each event — whatever objects a backend hands back."""
    await log.create("s", {})
    await log.append("s", EventType.AGENT_UPDATE, {"text": 'q " \\ \n 🐝', "float": 0.1 + 0.2})
    await fill(log, "s", 19)
    await log.append("s", LOG, {"level": "info", "message": "ünïcode ✓", "x": 1e16})
    for after, limit in ((0, 1000), (0, 1), (3, 5), (19, 10), (21, 5), (50, 5)):
        events = await log.read("s", after, limit)
        entries = await log.read_entries("s", after, limit)
        assert [(e.seq, e.epoch) for e in entries] == [(e.seq, e.epoch) for e in events]
        assert [e.to_json() for e in entries] == [e.to_json() for e in events]
        assert [Event.model_validate_json(e.to_json()) for e in entries] == events
    await log.trim("s", 10)
    assert [e.seq for e in await log.read_entries("s", 0, 3)] == [10, 11, 12]
    with pytest.raises(InvalidInput):
        await log.read_entries("s", -1)
    with pytest.raises(SessionNotFound):
        await log.read_entries("nope", 0)


async def test_concurrent_appends_get_unique_gapless_seqs(log: EventLog) -> None:
    sessions = ["x", "y", "z"]
    for sid in sessions:
        await log.create(sid, {})
    rng = random.Random(7)
    plan = [rng.choice(sessions) for _ in range(200)]

    async def producer(items: list[tuple[int, str]]) -> list[tuple[str, int, int]]:
        out = []
        for i, sid in items:
            event = await log.append(sid, LOG, {"message": str(i)})
            out.append((sid, event.seq, i))
            await asyncio.sleep(0)  # let other producers interleave
        return out

    chunks = [list(enumerate(plan))[k::20] for k in range(20)]
    results = [r for chunk in await asyncio.gather(*map(producer, chunks)) for r in chunk]
    for sid in sessions:
        expected_n = plan.count(sid)
        seqs = sorted(seq for s, seq, _ in results if s == sid)
        assert seqs == list(range(1, expected_n + 1))
        stored = await log.read(sid, 0, limit=1000)
        assert [e.seq for e in stored] == seqs
        by_seq = {seq: str(i) for s, seq, i in results if s == sid}
        assert all(e.payload["message"] == by_seq[e.seq] for e in stored)
        assert (await log.info(sid)).last_seq == expected_n


# --- wait --------------------------------------------------------------------------------------


async def test_wait_returns_at_once_when_data_exists(log: EventLog) -> None:
    await log.create("s", {})
    await fill(log, "s", 2)
    assert await asyncio.wait_for(log.wait("s", 0, 60), BOUND) is True
    assert await asyncio.wait_for(log.wait("s", 1, 60), BOUND) is True
    assert await log.wait("s", 1, 0) is True
    assert await log.wait("s", 2, 0) is False


async def test_wait_times_out_false(log: EventLog) -> None:
    await log.create("s", {})
    await fill(log, "s", 1)
    assert await log.wait("s", 1, 0.05) is False


async def test_wait_wakes_on_append(log: EventLog) -> None:
    await log.create("s", {})
    await fill(log, "s", 1)
    waiters = [asyncio.create_task(log.wait("s", 1, 60)) for _ in range(5)]
    other = asyncio.create_task(log.wait("s", 2, 0.3))
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    await log.append("s", LOG, msg(2))
    assert await asyncio.wait_for(asyncio.gather(*waiters), BOUND) == [True] * 5
    assert await asyncio.wait_for(other, BOUND) is False  # seq 2 is not > 2


async def test_wait_is_per_session(log: EventLog) -> None:
    await log.create("a", {})
    await log.create("b", {})
    waiter = asyncio.create_task(log.wait("a", 0, 0.2))
    await log.append("b", LOG, msg(0))
    assert await asyncio.wait_for(waiter, BOUND) is False


async def test_repeated_waits_see_every_append(log: EventLog) -> None:
    await log.create("s", {})
    seen: list[int] = []

    async def follower() -> None:
        cursor = 0
        while cursor < 30:
            assert await log.wait("s", cursor, 30)
            batch = await log.read("s", cursor)
            seen.extend(e.seq for e in batch)
            cursor = batch[-1].seq

    task = asyncio.create_task(follower())
    for i in range(30):
        await log.append("s", LOG, msg(i))
        if i % 7 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(task, BOUND * 2)
    assert seen == list(range(1, 31))


async def test_delete_wakes_waiters_with_session_not_found(log: EventLog) -> None:
    await log.create("s", {})
    waiter = asyncio.create_task(log.wait("s", 0, 60))
    await asyncio.sleep(0)
    await log.delete("s")
    with pytest.raises(SessionNotFound):
        await asyncio.wait_for(waiter, BOUND)


async def test_close_wakes_waiters_with_false(backend: Backend) -> None:
    log = backend.make()
    await log.open()
    await log.create("s", {})
    waiter = asyncio.create_task(log.wait("s", 0, 60))
    await asyncio.sleep(0)
    await log.close()
    assert await asyncio.wait_for(waiter, BOUND) is False
    assert await log.wait("s", 0, 60) is False  # and any wait after close


# --- retention ---------------------------------------------------------------------------------


async def test_trim_raises_first_seq(log: EventLog) -> None:
    await log.create("s", {})
    await fill(log, "s", 10)
    info = await log.trim("s", 4)
    assert (info.first_seq, info.last_seq) == (4, 10)
    assert (await log.info("s")).first_seq == 4
    assert [e.seq for e in await log.read("s", 0)] == list(range(4, 11))
    assert [e.seq for e in await log.read("s", 5, limit=2)] == [6, 7]
    assert (await log.trim("s", 2)).first_seq == 4  # never goes back
    info = await log.trim("s", 1000)  # clamped: everything dropped, seq keeps counting
    assert (info.first_seq, info.last_seq) == (11, 10)
    assert await log.read("s", 0) == []
    assert (await log.append("s", LOG, msg(0))).seq == 11
    assert [e.seq for e in await log.read("s", 0)] == [11]


# --- durability across reopen ------------------------------------------------------------------


async def test_reopen_keeps_events_and_epoch(durable_backend: Backend) -> None:
    async with durable_backend.make() as log:
        info = await log.create("s", {"k": "v"})
        await log.create("t", {})
        appended = [await log.append("s", LOG, msg(i)) for i in range(25)]
        await log.update_meta("s", {"status": "done"})
        await log.trim("t", 1)
    async with durable_backend.make() as again:
        reopened = await again.info("s")
        assert reopened.epoch == info.epoch
        assert (reopened.first_seq, reopened.last_seq) == (1, 25)
        assert reopened.meta == {"k": "v", "status": "done"}
        assert await again.read("s", 0) == appended
        assert await again.read("s", 24) == appended[24:]
        assert [s.session_id for s in await again.list_streams()] == ["t", "s"]
        assert (await again.append("s", LOG, msg(99))).seq == 26
        assert await again.wait("s", 25, 0) is True


async def test_a_stream_trimmed_empty_keeps_counting_after_reopen(durable_backend: Backend) -> None:
    async with durable_backend.make() as log:
        await log.create("s", {})
        await fill(log, "s", 5)
        await log.trim("s", 1000)
    async with durable_backend.make() as again:
        info = await again.info("s")
        assert (info.first_seq, info.last_seq) == (6, 5)
        assert await again.read("s", 0) == []
        assert (await again.append("s", LOG, msg(0))).seq == 6


async def test_append_many_gives_consecutive_seqs_in_order(log: EventLog) -> None:
    await log.create("batch", {})
    await log.append("batch", EventType.LOG, {"level": "info", "message": "first", "agent": None})
    items = [
        (EventType.LOG, {"level": "info", "message": f"m{i}", "agent": None}) for i in range(25)
    ]
    events = await log.append_many("batch", items)
    assert [e.seq for e in events] == list(range(2, 27))
    assert [e.payload["message"] for e in events] == [f"m{i}" for i in range(25)]
    assert await log.read("batch", 1, 100) == events
    assert await log.append_many("batch", []) == []
