"""The live sessions feed: the first page of the caller's listing, pushed when it changes.

``GET /api/feed/sessions?limit=50`` is a Server-Sent Events stream whose ``sessions`` events
each carry a whole :class:`tk9.server.api_sessions.SessionList` (the same body as
``GET /api/sessions?limit=``): one at once, then one whenever the page differs from the last
one sent — a session created, its status, progress or warnings changed, or deleted. It wakes
on :class:`tk9.server.changes.Changes` (this process's changes, at once) and at least every
:data:`RECHECK` seconds (a worker on another node writes the shared log without telling this
process). Named ``ping`` events keep it alive. The sessions page uses it instead of polling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from tk9.server.api_sessions import sessions_page
from tk9.server.api_stream import sse_response
from tk9.server.auth import current_user
from tk9.server.context import Ctx

router = APIRouter()

RECHECK = 5.0
"""Seconds between two looks at the listing when this process saw no change."""


@router.get("/api/feed/sessions", include_in_schema=False)  # never ends: not for fuzzers
async def sessions_feed(
    request: Request, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> EventSourceResponse:
    """Server-Sent Events: ``sessions`` (a ``SessionList``) now and on every change."""
    user = current_user(request)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        sent: str | None = None
        while True:
            seen = ctx.changes.version  # read before listing: a change meanwhile wakes us again
            body = (await sessions_page(ctx, user, limit, None)).model_dump_json()
            if body != sent:
                sent = body
                yield ServerSentEvent(data=body, event="sessions")
            await ctx.changes.wait(seen, RECHECK)

    return sse_response(ctx, stream())
