"""Test-only hooks, mounted only when ``TK9_TEST_HOOKS=1``: never in production.

* ``POST /api/_test/drop-connections?code=1011`` closes every live WebSocket and SSE stream
  from the server side (the fault "server cut the connection mid-run").
* ``POST /api/_test/append/{session_id}`` appends raw events (benchmarks, fault scenarios).
* ``POST /api/_test/sessions`` creates a session that no producer runs: a test then scripts its
  whole log with ``append`` (e.g. a run ending ``completed_with_warnings`` with coverage).
* ``POST /api/_test/produce`` runs an in-process producer per session, the way research runs
  append, so a benchmark measures fan-out rather than an HTTP client.
"""

from __future__ import annotations

import asyncio
import uuid
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


class ProduceBody(BaseModel):
    session_ids: list[str] = Field(min_length=1, max_length=10_000)
    events: int = Field(ge=1, le=1_000_000)
    batch: int = Field(default=10, ge=1, le=1_000)
    padding: str = Field(default="", max_length=4096)


class ScriptedSession(BaseModel):
    subject: str = Field(min_length=1, max_length=1000)
    language: str = Field(default="en", max_length=32)


@router.post("/sessions", status_code=201)
async def scripted_session(body: ScriptedSession, ctx: Ctx) -> dict[str, str]:
    """A session with metadata like ``POST /api/sessions`` makes, but no run behind it."""
    session_id = str(uuid.uuid4())
    meta: dict[str, Any] = {
        "subject": body.subject,
        "language": body.language,
        "created_at": ctx.clock.wall(),
        "status": "pending",
        "progress": 0,
        "owner": ctx.settings.node_id,
    }
    info = await ctx.log.create(session_id, meta)
    return {"session_id": session_id, "epoch": info.epoch}


@router.post("/produce")
async def produce(body: ProduceBody, ctx: Ctx) -> dict[str, int]:
    """Append ``events`` log events to each session, ``batch`` at a time; returns when done."""
    sids = [parse_session_id(s) for s in body.session_ids]
    for sid in sids:
        await ctx.log.info(sid)

    async def one(sid: str) -> None:
        for start in range(0, body.events, body.batch):
            items = [
                (EventType.LOG, {"level": "info", "message": f"bench {n} {body.padding}"})
                for n in range(start, min(body.events, start + body.batch))
            ]
            await ctx.log.append_many(sid, [(k, validate_payload(k, p)) for k, p in items])

    await asyncio.gather(*(one(sid) for sid in sids))
    return {"appended": body.events * len(sids)}


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
