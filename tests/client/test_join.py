"""``LiveSession``: a late viewer starts from the stored snapshot and streams only what follows."""

from __future__ import annotations

import pytest

from tk9.client import Applied, LiveSession, SessionFollower, Transport, create_session
from tk9.client.http import get_snapshot
from tk9.events import TERMINAL_RUN_STATUSES
from tk9.protocol.follower import FollowerPolicy

from .conftest import ServerProcess

FAST = FollowerPolicy(backoff_base=0.02, backoff_cap=0.2, ack_interval=0.05)


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_late_join_streams_only_the_events_after_the_snapshot(
    server: ServerProcess, transport: Transport
) -> None:
    created = await create_session(server.url, "Tidal energy", "en")
    sid = created["session_id"]
    async with SessionFollower(server.url, sid, policy=FAST) as early:
        async for update in early:
            if isinstance(update, Applied) and update.event.seq >= 20:
                break

    streamed: list[int] = []
    async with await LiveSession.join(server.url, sid, transport, policy=FAST) as live:
        joined_at = live.state.seq
        assert joined_at >= 20
        async for state in live:
            streamed.append(state.seq)
    final = await get_snapshot(server.url, sid)
    assert final.status in TERMINAL_RUN_STATUSES
    assert live.state == final
    assert streamed == list(range(joined_at + 1, final.seq + 1))


async def test_joining_a_finished_session_replays_nothing(server: ServerProcess) -> None:
    created = await create_session(server.url, "Tidal energy", "en")
    sid = created["session_id"]
    async with SessionFollower(server.url, sid, policy=FAST) as follower:
        async for _ in follower:
            pass
    async with await LiveSession.join(server.url, sid, policy=FAST) as live:
        states = [state async for state in live]
    assert states == []
    assert live.state == await get_snapshot(server.url, sid)
    assert live.follower.cursor.seq == live.state.seq
