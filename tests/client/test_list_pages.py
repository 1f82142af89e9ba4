"""``list_sessions`` follows the listing's cursor until the last page."""

from __future__ import annotations

import httpx

from tk9.client.http import list_sessions


async def test_list_sessions_follows_next_cursor() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        seen.append(cursor)
        if cursor is None:
            return httpx.Response(
                200, json={"sessions": [{"session_id": "a"}], "next_cursor": "x=="}
            )
        return httpx.Response(200, json={"sessions": [{"session_id": "b"}], "next_cursor": None})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        sessions = await list_sessions("http://tk9.test", client=http)
    assert [s["session_id"] for s in sessions] == ["a", "b"]
    assert seen == [None, "x=="]
