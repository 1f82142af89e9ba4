"""The Python client against a real server (uvicorn + SQLite in a child process).

Each test follows a demo run and checks the invariant of the design: the applied seqs are
exactly the log's (1..head, in order, no gap, no duplicate), and folding them gives the
snapshot endpoint's state — across dropped connections, transport switches and a SIGKILL.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tk9.client import (
    Applied,
    Replaced,
    SessionFollower,
    Transport,
    create_session,
    get_snapshot,
    list_sessions,
)
from tk9.errors import InvalidInput, SessionNotFound
from tk9.events import TERMINAL_RUN_STATUSES
from tk9.projection import apply, initial_state
from tk9.protocol.follower import FollowerPolicy
from tk9.state import SessionState

from .conftest import ServerProcess

FAST = FollowerPolicy(backoff_base=0.02, backoff_cap=0.2, ack_interval=0.05)


class Viewer:
    """Folds what a follower yields, and records the applied seqs."""

    def __init__(self, created: dict[str, Any]) -> None:
        self.state = initial_state(
            created["session_id"],
            created["epoch"],
            subject=created["subject"],
            language=created["language"],
            created_at=created["created_at"],
        )
        self.seqs: list[int] = []

    def take(self, update: Applied | Replaced) -> None:
        if isinstance(update, Applied):
            self.seqs.append(update.event.seq)
            self.state = apply(self.state, update.event)
        else:
            self.state = update.snapshot
            self.seqs = list(range(1, update.snapshot.seq + 1))


async def converged(server: ServerProcess, viewer: Viewer) -> SessionState:
    snapshot = await get_snapshot(server.url, viewer.state.session_id)
    assert snapshot.status in TERMINAL_RUN_STATUSES
    assert viewer.seqs == list(range(1, snapshot.seq + 1))
    assert viewer.state.model_dump() == snapshot.model_dump()
    return snapshot


@pytest.mark.parametrize("transport", ["ws", "sse", "poll"])
async def test_follows_a_run_to_the_end(server: ServerProcess, transport: Transport) -> None:
    created = await create_session(server.url, "Tidal energy", "en")
    viewer = Viewer(created)
    async with SessionFollower(
        server.url, created["session_id"], transport, policy=FAST, poll_wait=2
    ) as follower:
        async for update in follower:
            viewer.take(update)
    snapshot = await converged(server, viewer)
    assert follower.cursor.seq == snapshot.seq
    assert follower.cursor.epoch == created["epoch"]
    assert follower.connections == 1


async def test_resumes_after_the_server_drops_every_connection(
    slow_server: ServerProcess,
) -> None:
    created = await create_session(slow_server.url, "Wind", "en")
    viewer = Viewer(created)
    drops = 0
    async with (
        httpx.AsyncClient() as http,
        SessionFollower(slow_server.url, created["session_id"], policy=FAST) as follower,
    ):
        async for update in follower:
            viewer.take(update)
            if len(viewer.seqs) in (10, 40, 80):
                r = await http.post(f"{slow_server.url}/api/_test/drop-connections?code=1011")
                drops += r.json()["dropped"]
    await converged(slow_server, viewer)
    assert drops == 3
    assert follower.connections >= 4


async def test_switching_transports_mid_session_keeps_the_cursor(
    slow_server: ServerProcess,
) -> None:
    created = await create_session(slow_server.url, "Hydrogen", "en")
    viewer = Viewer(created)
    plan: dict[int, Transport] = {15: "sse", 40: "poll", 70: "ws", 100: "sse"}
    seen: list[Transport] = []
    async with SessionFollower(
        slow_server.url, created["session_id"], "ws", policy=FAST, poll_wait=1
    ) as follower:
        async for update in follower:
            viewer.take(update)
            seen.append(follower.transport)
            if len(viewer.seqs) in plan:
                follower.switch_transport(plan[len(viewer.seqs)])
    await converged(slow_server, viewer)
    assert set(seen) == {"ws", "sse", "poll"}
    assert follower.connections == 5


async def test_resumes_across_a_server_sigkill_and_restart(slow_server: ServerProcess) -> None:
    created = await create_session(slow_server.url, "Geothermal", "en")
    viewer = Viewer(created)
    killed_at = 0
    async with SessionFollower(slow_server.url, created["session_id"], policy=FAST) as follower:
        async for update in follower:
            viewer.take(update)
            if len(viewer.seqs) == 30 and not killed_at:
                slow_server.kill()
                killed_at = viewer.seqs[-1]
                slow_server.start()  # same port, same data directory
    snapshot = await converged(slow_server, viewer)
    assert snapshot.status == "interrupted"  # the demo run died with the process
    assert snapshot.seq > killed_at
    assert follower.connections >= 2


@pytest.mark.parametrize("transport", ["ws", "sse", "poll"])
async def test_a_forged_cursor_is_answered_with_a_reset(
    server: ServerProcess, transport: Transport
) -> None:
    created = await create_session(server.url, "Biomass", "en")
    updates: list[Applied | Replaced] = []
    async with SessionFollower(
        server.url,
        created["session_id"],
        transport,
        after=10**9,
        epoch="not-the-epoch",
        policy=FAST,
        poll_wait=1,
    ) as follower:
        async for update in follower:
            updates.append(update)
    assert isinstance(updates[0], Replaced)
    seqs = [u.event.seq for u in updates if isinstance(u, Applied)]
    start = updates[0].snapshot.seq
    assert seqs == list(range(start + 1, follower.cursor.seq + 1))
    snapshot = await get_snapshot(server.url, created["session_id"])
    assert follower.cursor.seq == snapshot.seq
    assert follower.cursor.epoch == created["epoch"]


@pytest.mark.parametrize("transport", ["ws", "sse", "poll"])
async def test_unknown_session_stops_with_session_not_found(
    server: ServerProcess, transport: Transport
) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    async with SessionFollower(server.url, missing, transport, policy=FAST) as follower:
        with pytest.raises(SessionNotFound):
            async for _ in follower:
                pass
    assert follower.connections == 1  # a terminal answer is not retried


async def test_rest_helpers(server: ServerProcess) -> None:
    first = await create_session(server.url, "Nuclear fusion", "fr")
    second = await create_session(server.url, "Fission", "en")
    listed = await list_sessions(server.url)
    assert [s["session_id"] for s in listed[:2]] == [second["session_id"], first["session_id"]]
    snapshot = await get_snapshot(server.url, first["session_id"])
    assert snapshot.subject == "Nuclear fusion"
    assert snapshot.language == "fr"
    assert len(snapshot.agents) == 7
    with pytest.raises(SessionNotFound):
        await get_snapshot(server.url, "00000000-0000-4000-8000-00000000dead")
    with pytest.raises(InvalidInput):
        await create_session(server.url, "", "en")
