"""Test-only hooks, mounted only when ``TK9_TEST_HOOKS=1``: never in production.

* ``POST /api/_test/drop-connections?code=1011`` closes every live WebSocket and SSE stream
  from the server side (the fault "server cut the connection mid-run").
* ``POST /api/_test/append/{session_id}`` appends raw events (benchmarks, fault scenarios).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tk9.events import EventType, validate_payload
from tk9.server.context import Ctx
from tk9.server.paths import parse_session_id

router = APIRouter(prefix="/api/_test")


class RawEvent(BaseModel):
    event_type: EventType
    payload: dict[str, Any]


class AppendBody(BaseModel):
    events: list[RawEvent] = Field(max_length=10_000)


@router.post("/drop-connections")
async def drop_connections(
    ctx: Ctx,
    code: Annotated[int, Query(ge=1000, le=4999)] = 1011,
    session_id: str | None = None,
) -> dict[str, int]:
    sid = parse_session_id(session_id) if session_id else None
    return {"dropped": await ctx.hub.drop_all(code, session_id=sid)}


@router.post("/append/{session_id}")
async def append(session_id: str, body: AppendBody, ctx: Ctx) -> dict[str, int]:
    sid = parse_session_id(session_id)
    items = [(raw.event_type, validate_payload(raw.event_type, raw.payload)) for raw in body.events]
    events = await ctx.log.append_many(sid, items)
    return {"last_seq": events[-1].seq if events else 0}
