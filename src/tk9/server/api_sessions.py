"""REST: create, list, snapshot, cancel and delete sessions; health; config; metrics."""

from __future__ import annotations

import shutil
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

import tk9
from tk9.errors import Conflict
from tk9.events import RunStatus
from tk9.research.retrieval import check_corpus
from tk9.research.translate import translation_targets
from tk9.research.validate import (
    ISO_639_1,
    MAX_SUBJECT,
    MIN_SUBJECT,
    SOURCE_LANGUAGE,
    validate_request,
)
from tk9.server.auth import can_see, current_user, owner_meta
from tk9.server.context import Ctx
from tk9.server.paths import parse_session_id
from tk9.state import SessionState

router = APIRouter()


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Lengths are checked (after whitespace normalisation) by validate_request; this bound only
    # keeps absurd bodies from being parsed further.
    subject: str = Field(max_length=20 * MAX_SUBJECT)
    language: str = Field(max_length=32)


class SessionCreated(BaseModel):
    session_id: str
    subject: str
    language: str
    status: RunStatus
    created_at: float
    epoch: str


class SessionSummary(BaseModel):
    session_id: str
    subject: str
    language: str
    status: RunStatus
    progress: int
    created_at: float
    warning_count: int = 0
    """How many warnings the final status lists (non-zero on ``completed_with_warnings``)."""


class SessionList(BaseModel):
    sessions: list[SessionSummary]


@router.post("/api/sessions", status_code=201)
async def create_session(body: CreateSession, request: Request, ctx: Ctx) -> SessionCreated:
    user = current_user(request)
    subject, language = validate_request(body.subject, body.language)
    if not ctx.settings.demo_producer:
        check_corpus(ctx.settings)
    session_id = str(uuid.uuid4())
    created_at = ctx.clock.wall()
    meta: dict[str, Any] = {
        "subject": subject,
        "language": language,
        "created_at": created_at,
        "status": RunStatus.PENDING.value,
        "progress": 0,
        "owner": ctx.settings.node_id,
        **owner_meta(user, ctx.settings.auth),
    }
    info = await ctx.log.create(session_id, meta)
    ctx.runs.start(session_id, subject, language)
    return SessionCreated(
        session_id=session_id,
        subject=subject,
        language=language,
        status=RunStatus.PENDING,
        created_at=created_at,
        epoch=info.epoch,
    )


@router.get("/api/sessions")
async def list_sessions(request: Request, ctx: Ctx) -> SessionList:
    """The caller's sessions (an admin's: everyone's), newest first."""
    user = current_user(request)
    out = []
    for info in await ctx.log.list_streams():
        meta = info.meta
        if not can_see(user, meta):
            continue
        try:
            status = RunStatus(meta.get("status", "pending"))
        except ValueError:
            status = RunStatus.PENDING
        out.append(
            SessionSummary(
                session_id=info.session_id,
                subject=str(meta.get("subject", "")),
                language=str(meta.get("language", "en")),
                status=status,
                progress=int(meta.get("progress", 0) or 0),
                created_at=float(meta.get("created_at", info.created_at)),
                warning_count=int(meta.get("warning_count", 0) or 0),
            )
        )
    return SessionList(sessions=out)


@router.get("/api/sessions/{session_id}")
async def get_snapshot(session_id: str, ctx: Ctx) -> SessionState:
    return await ctx.snapshots.get(parse_session_id(session_id))


@router.post("/api/sessions/{session_id}/cancel", status_code=202)
async def cancel_session(session_id: str, ctx: Ctx) -> dict[str, bool]:
    sid = parse_session_id(session_id)
    await ctx.log.info(sid)  # 404 for unknown sessions
    return {"cancelled": ctx.runs.cancel(sid)}


@router.delete("/api/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, ctx: Ctx) -> Response:
    sid = parse_session_id(session_id)
    await ctx.log.info(sid)
    if sid in ctx.runs.active():
        raise Conflict("the session is still running: cancel it first")
    await ctx.hub.drop_all(1000, session_id=sid)
    await ctx.log.delete(sid)
    ctx.snapshots.forget(sid)
    folder = ctx.settings.outputs_dir / sid
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
    return Response(status_code=204)


@router.get("/api/health")
async def health(ctx: Ctx) -> dict[str, Any]:
    started = time.perf_counter()
    await ctx.log.list_streams()
    return {
        "status": "ok",
        "version": tk9.__version__,
        "log_backend": ctx.settings.log_backend,
        "engine": ctx.settings.engine,
        "log_latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }


@router.get("/api/config")
async def config(ctx: Ctx) -> dict[str, Any]:
    s = ctx.settings
    return {
        "languages": sorted(ISO_639_1),
        "source_language": SOURCE_LANGUAGE,
        "translation_targets": await translation_targets(
            SOURCE_LANGUAGE, llm_configured=s.engine == "llm"
        ),
        "engines": [s.engine],
        "min_subject": MIN_SUBJECT,
        "max_subject": MAX_SUBJECT,
        "heartbeat_interval": s.heartbeat_interval,
        "heartbeat_timeout": s.heartbeat_timeout,
        "demo": s.demo_producer,
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(ctx: Ctx) -> Response:
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
