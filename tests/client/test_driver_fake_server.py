"""The asyncio WebSocket driver against a scripted fake server: misbehaviour on purpose.

The real server never sends a hole or goes silent; these fakes do, to check that the driver
performs the pure follower's decisions: answer pings, ack cumulatively, reconnect from the
cursor on a gap, on a silent link (watchdog), and stop on a terminal close code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tk9.client import Applied, SessionFollower, StreamClosed
from tk9.protocol.follower import FollowerPolicy
from tk9.protocol.messages import EventFrame, Hello

from .helpers import EPOCH, SESSION, log_event, status_event

FAST = FollowerPolicy(backoff_base=0.01, backoff_cap=0.05, ack_interval=0.0, ack_every=1)
LAST = 6

Script = Callable[[ServerConnection, int, int], Awaitable[None]]


def event_json(seq: int) -> str:
    event = status_event(seq, "completed") if seq == LAST else log_event(seq)
    return EventFrame(event=event).model_dump_json()


def hello_json(after: int, interval: float = 5.0) -> str:
    return Hello(
        session_id=SESSION,
        epoch=EPOCH,
        head=LAST,
        resume_from=after,
        heartbeat_interval=interval,
        heartbeat_timeout=interval,
    ).model_dump_json()


@asynccontextmanager
async def fake_server(script: Script) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve ``script(ws, connection_number, after)``; yields (base URL, frames received)."""
    received: list[str] = []
    count = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal count
        count += 1
        assert ws.request is not None
        after = int(parse_qs(urlsplit(ws.request.path).query)["after"][0])
        await script(ws, count, after)
        async for message in ws:  # keep reading until the client goes away
            received.append(str(message))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}", received


async def follow(url: str) -> tuple[list[int], SessionFollower]:
    seqs: list[int] = []
    async with SessionFollower(url, SESSION, policy=FAST) as follower:
        async for update in follower:
            assert isinstance(update, Applied)
            seqs.append(update.event.seq)
    return seqs, follower


async def test_a_gap_makes_the_driver_resume_from_its_cursor() -> None:
    async def script(ws: ServerConnection, n: int, after: int) -> None:
        await ws.send(hello_json(after))
        seqs = [1, 2, 4] if n == 1 else range(after + 1, LAST + 1)
        for seq in seqs:
            await ws.send(event_json(seq))

    async with fake_server(script) as (url, _):
        seqs, follower = await follow(url)
    assert seqs == list(range(1, LAST + 1))
    assert follower.connections == 2
    assert follower.last_close is not None
    assert "gap" in follower.last_close.reason


async def test_a_silent_server_trips_the_watchdog_and_the_driver_resumes() -> None:
    async def script(ws: ServerConnection, n: int, after: int) -> None:
        await ws.send(hello_json(after, interval=0.02))  # stale after 50 ms of silence
        end = 3 if n == 1 else LAST
        for seq in range(after + 1, end + 1):
            await ws.send(event_json(seq))

    async with fake_server(script) as (url, _):
        seqs, follower = await follow(url)
    assert seqs == list(range(1, LAST + 1))
    assert follower.last_close is not None
    assert "stale" in follower.last_close.reason


async def test_pings_are_answered_and_acks_are_cumulative() -> None:
    async def script(ws: ServerConnection, n: int, after: int) -> None:
        await ws.send(hello_json(after))
        await ws.send(json.dumps({"type": "ping", "ts": 42.5}))
        pong = json.loads(await ws.recv())
        assert pong == {"type": "pong", "ts": 42.5}
        for seq in range(after + 1, LAST + 1):
            await ws.send(event_json(seq))

    async with fake_server(script) as (url, received):
        seqs, _ = await follow(url)
    assert seqs == list(range(1, LAST + 1))
    acks = [json.loads(m)["seq"] for m in received if json.loads(m)["type"] == "ack"]
    assert acks == sorted(acks)
    assert acks[-1] == LAST


@pytest.mark.parametrize(("code", "retried"), [(4400, False), (1012, True)])
async def test_close_codes_decide_between_stopping_and_resuming(code: int, retried: bool) -> None:
    async def script(ws: ServerConnection, n: int, after: int) -> None:
        await ws.send(hello_json(after))
        if n == 1:
            await ws.send(event_json(1))
            await ws.close(code, "scripted")
            return
        for seq in range(after + 1, LAST + 1):
            await ws.send(event_json(seq))

    async with fake_server(script) as (url, _):
        if retried:
            seqs, follower = await follow(url)
            assert seqs == list(range(1, LAST + 1))
            assert follower.connections == 2
        else:
            with pytest.raises(StreamClosed) as info:
                await follow(url)
            assert info.value.close_code == code


async def test_a_malformed_frame_is_treated_as_a_broken_connection() -> None:
    async def script(ws: ServerConnection, n: int, after: int) -> None:
        await ws.send(hello_json(after))
        if n == 1:
            await ws.send(event_json(1))
            await ws.send("<html>502 Bad Gateway</html>")
            return
        for seq in range(after + 1, LAST + 1):
            await ws.send(event_json(seq))

    async with fake_server(script) as (url, _):
        seqs, follower = await follow(url)
    assert seqs == list(range(1, LAST + 1))
    assert follower.last_close is not None
    assert follower.last_close.code == 1002
