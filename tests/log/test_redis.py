"""Redis-only behaviour: several clients (stand-ins for server processes) sharing one Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tk9.clock import FakeClock
from tk9.errors import SessionNotFound, Unavailable
from tk9.events import EventType, StoredEntry
from tk9.log.redis import RedisEventLog

from .deaf_proxy import DeafProxy
from .redis_server import RedisServer, free_port

LOG = EventType.LOG
BOUND = 5.0


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[RedisEventLog, RedisEventLog]]:
    redis_server.flush()
    clock = FakeClock()
    a = RedisEventLog(redis_server.url, clock=clock, watcher_linger=0.05)
    b = RedisEventLog(redis_server.url, clock=clock, watcher_linger=0.05)
    async with a, b:
        yield a, b


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for a condition that the system reaches on its own (no event to await:
    the watcher lives in another connection's blocking read)."""
    for _ in range(int(BOUND / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within the bound")


async def test_two_processes_appending_to_one_session_never_collide(
    pair: tuple[RedisEventLog, RedisEventLog],
) -> None:
    a, b = pair
    await a.create("s", {})

    async def produce(log: RedisEventLog, tag: str) -> list[int]:
        return [(await log.append("s", LOG, {"message": f"{tag}{i}"})).seq for i in range(100)]

    got_a, got_b = await asyncio.gather(produce(a, "a"), produce(b, "b"))
    assert sorted(got_a + got_b) == list(range(1, 201))
    assert got_a == sorted(got_a) and got_b == sorted(got_b)
    stored = await b.read("s", 0)
    assert [e.seq for e in stored] == list(range(1, 201))
    assert await a.read("s", 0) == stored


async def test_waiter_in_one_process_wakes_on_append_in_another(
    pair: tuple[RedisEventLog, RedisEventLog],
) -> None:
    a, b = pair
    info = await a.create("s", {})
    waiters = [asyncio.create_task(a.wait("s", 0, 60)) for _ in range(50)]
    await until(lambda: a.watched_sessions() == 1)
    event = await b.append("s", LOG, {"message": "hi"})
    assert event.epoch == info.epoch
    assert await asyncio.wait_for(asyncio.gather(*waiters), BOUND) == [True] * 50
    # one shared blocking reader served all fifty waiters, and it goes away when idle
    await until(lambda: a.watched_sessions() == 0)


async def test_delete_in_one_process_wakes_waiters_in_another(
    pair: tuple[RedisEventLog, RedisEventLog],
) -> None:
    a, b = pair
    await a.create("s", {})
    await a.append("s", LOG, {"message": "x"})
    waiter = asyncio.create_task(a.wait("s", 1, 60))
    await until(lambda: a.watched_sessions() == 1)
    await b.delete("s")
    with pytest.raises(SessionNotFound):
        await asyncio.wait_for(waiter, BOUND)


async def test_a_new_client_sees_the_same_epoch_and_meta(redis_server: RedisServer) -> None:
    redis_server.flush()
    async with RedisEventLog(redis_server.url) as first:
        info = await first.create("s", {"topic": "t"})
        await first.append("s", LOG, {"message": "x"})
    async with RedisEventLog(redis_server.url) as second:
        again = await second.info("s")
        assert (again.epoch, again.last_seq, again.meta) == (info.epoch, 1, {"topic": "t"})


async def test_appends_store_the_wire_text_and_older_entries_read_the_same(
    redis_server: RedisServer,
) -> None:
    """Field ``j`` is each event's ``to_json()`` text; entries an older tk9 wrote (no ``j``)
    are read back with the same text, alone or in a page with newer ones."""
    redis_server.flush()
    raw = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    events_key, info_key = "tk9:s:{s}:events", "tk9:s:{s}:info"
    async with raw, RedisEventLog(redis_server.url) as log:
        await log.create("s", {})
        for i in range(1, 4):  # as an older tk9's append script did: t, ts, p only
            seq = await raw.hincrby(info_key, "last_seq", 1)
            body = json.dumps({"message": f"é{i} / \u2028", "level": "info"}, ensure_ascii=False)
            await raw.xadd(
                events_key, {"t": "log", "ts": repr(1.7e9 + i / 3), "p": body}, f"{seq}-0"
            )
        new = [await log.append("s", LOG, {"message": f'n{i} "q" /'}) for i in range(3)]
        stored = await raw.xrange(events_key)
        assert [fields.get("j") for _, fields in stored] == [None] * 3 + [e.to_json() for e in new]
        everything = [e.to_json() for e in await log.read("s", 0)]
        assert everything[3:] == [e.to_json() for e in new]
        for after, limit in ((0, 8), (1, 4), (3, 3), (4, 1), (0, 2), (6, 5)):
            page = await log.read_entries("s", after, limit)
            assert [e.to_json() for e in page] == everything[after : after + limit]
            assert [e.seq for e in page] == list(range(after + 1, after + 1 + len(page)))
            if after >= 3:  # only entries with a stored text: sent as stored
                assert all(isinstance(e, StoredEntry) for e in page)


async def test_prefixes_isolate_deployments(redis_server: RedisServer) -> None:
    redis_server.flush()
    async with (
        RedisEventLog(redis_server.url, prefix="one") as one,
        RedisEventLog(redis_server.url, prefix="two") as two,
    ):
        await one.create("s", {})
        with pytest.raises(SessionNotFound):
            await two.info("s")
        assert await two.list_streams() == []


async def test_unreachable_redis_is_unavailable() -> None:
    log = RedisEventLog(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(Unavailable):
        await log.open()
    with pytest.raises(Unavailable):
        await log.info("s")


async def test_losing_redis_mid_wait_raises_unavailable(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    try:
        log = RedisEventLog(server.url)
        async with log:
            await log.create("s", {})
            waiter = asyncio.create_task(log.wait("s", 0, 60))
            await until(lambda: log.watched_sessions() == 1)
            server.stop()
            with pytest.raises(Unavailable):
                await asyncio.wait_for(waiter, BOUND)
            with pytest.raises(Unavailable):
                await log.append("s", LOG, {"message": "x"})
    finally:
        server.stop()


async def test_a_blocking_read_on_a_connection_gone_deaf_is_healed(
    redis_server: RedisServer,
) -> None:
    """The watcher's connection stops carrying replies without closing: the waiter still
    wakes on the next append, once the read's socket timeout (block + grace) has run out."""
    redis_server.flush()
    proxy = DeafProxy(redis_server.port)
    await proxy.start()
    try:
        viewer = RedisEventLog(proxy.url, watcher_linger=0.05, watch_block=0.2, watch_grace=0.3)
        async with viewer, RedisEventLog(redis_server.url) as writer:
            await writer.create("s", {})
            waiter = asyncio.create_task(viewer.wait("s", 0, 60))
            await until(lambda: viewer.watched_sessions() == 1)
            proxy.deafen()
            await writer.append("s", LOG, {"message": "after the connection went deaf"})
            assert await asyncio.wait_for(waiter, BOUND) is True
            assert viewer.healed_watchers() >= 1
    finally:
        await proxy.stop()


def test_watch_timings_must_be_positive() -> None:
    with pytest.raises(ValueError, match="watch_block"):
        RedisEventLog("redis://127.0.0.1:1/0", watch_block=0)
