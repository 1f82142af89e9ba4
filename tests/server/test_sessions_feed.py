"""The live sessions feed (``GET /api/feed/sessions``) against a real ``tk9 serve``.

It refuses a bad page size; it sends the first page of the listing at once, then a new page
whenever a session is created, changes status or is deleted — never the same page twice in a
row.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse

from tests.support import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        data_dir=tmp_path / "data",
        env={"TK9_DEMO_PRODUCER": "1", "TK9_DEMO_INTERVAL": "0.01", "TK9_DEMO_EVENTS": "60"},
    ).start()
    yield srv
    srv.stop()


async def pages(events: AsyncIterator[ServerSentEvent]) -> AsyncIterator[dict[str, Any]]:
    async for msg in events:
        if msg.event == "sessions":
            yield json.loads(msg.data)


async def test_feed_pushes_created_finished_and_deleted(server: ServerProcess) -> None:
    assert server.api("GET", "/api/feed/sessions?limit=0").status_code == 422
    assert server.api("GET", "/api/feed/sessions?limit=101").status_code == 422
    async with (
        httpx.AsyncClient(timeout=30, base_url=server.url) as c,
        aconnect_sse(c, "GET", "/api/feed/sessions?limit=10") as src,
    ):
        assert src.response.headers["content-type"].startswith("text/event-stream")
        feed = pages(src.aiter_sse())

        async def next_page() -> dict[str, Any]:
            return await asyncio.wait_for(anext(feed), 20)

        seen = [await next_page()]
        assert seen[0] == {"sessions": [], "next_cursor": None}
        r = await c.post("/api/sessions", json={"subject": "Tidal power", "language": "en"})
        sid = r.json()["session_id"]
        while not (seen[-1]["sessions"] and seen[-1]["sessions"][0]["status"] == "completed"):
            seen.append(await next_page())
        assert [s["session_id"] for s in seen[-1]["sessions"]] == [sid]
        assert seen[-1] == (await c.get("/api/sessions?limit=10")).json()
        assert (await c.delete(f"/api/sessions/{sid}")).status_code == 204
        seen.append(await next_page())
        assert seen[-1]["sessions"] == []
    assert all(a != b for a, b in itertools.pairwise(seen))
