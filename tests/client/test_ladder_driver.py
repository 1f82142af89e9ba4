"""The Python follower climbs the ladder for real: behind an nginx that does not pass
WebSocket (deploy/nginx.conf without the Upgrade headers), it moves to SSE by itself, loses and
repeats nothing, and goes back to WebSocket through a probe once nginx passes it again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness.nginx import Nginx, Variant, free_port
from tk9.client import Applied, SessionFollower, create_session, get_snapshot
from tk9.protocol.follower import FollowerPolicy
from tk9.protocol.ladder import LadderPolicy

from .conftest import ServerProcess

FAST = FollowerPolicy(backoff_base=0.02, backoff_cap=0.2, ack_interval=0.05)
QUICK_PROBES = LadderPolicy(backoff_base=0.02, backoff_cap=0.2, probe_interval=0.3)


@pytest.fixture
def no_upgrade_proxy(slow_server: ServerProcess, tmp_path: Path) -> Iterator[Nginx]:
    proxy = Nginx(
        prefix=tmp_path / "nginx",
        port=free_port(),
        upstreams=[f"127.0.0.1:{slow_server.port}"],
        variant=Variant.NO_UPGRADE,
    )
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


async def test_falls_back_to_sse_and_probes_back_to_websocket(
    slow_server: ServerProcess, no_upgrade_proxy: Nginx
) -> None:
    created = await create_session(no_upgrade_proxy.url, "Ladder behind a proxy", "en")
    trace: list[str] = []
    transports: list[str] = []
    seqs: list[int] = []
    async with SessionFollower(
        no_upgrade_proxy.url,
        created["session_id"],
        policy=FAST,
        ladder=QUICK_PROBES,
        trace=trace.append,
    ) as follower:
        async for update in follower:
            assert isinstance(update, Applied)
            seqs.append(update.event.seq)
            transports.append(follower.transport)
            if len(seqs) == 20:
                # nginx passes WebSocket again: the next probe beside SSE takes over
                no_upgrade_proxy.variant = Variant.GOOD
                await asyncio.to_thread(no_upgrade_proxy.reload)
    snapshot = await get_snapshot(slow_server.url, created["session_id"])
    assert seqs == list(range(1, snapshot.seq + 1))  # nothing lost or repeated across both moves
    assert transports[0] == "sse"  # the refused upgrade moved it before the first event
    assert transports[-1] == "ws", trace
    assert any("(fallback)" in line and line.startswith("open sse") for line in trace), trace
    assert any("probe: WebSocket is back" in line for line in trace), trace
    back = next(i for i, line in enumerate(trace) if "probe: WebSocket is back" in line)
    assert trace[back + 1].startswith("open ws"), trace
    assert trace[back + 1].endswith("(resume, already open)"), trace  # the probe's own socket
