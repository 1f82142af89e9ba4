"""REST: create, list, snapshot, cancel and delete sessions; health; config; metrics."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue

import tk9
from tk9.accounts.store import User
from tk9.errors import Conflict, InvalidInput
from tk9.events import RunStatus
from tk9.research.corpus_info import corpus_info
from tk9.research.retrieval import check_corpus
from tk9.research.translate import Route, apertium_pairs, translation_routes
from tk9.research.validate import (
    ISO_639_1,
    MAX_SUBJECT,
    MIN_SUBJECT,
    SOURCE_LANGUAGE,
    validate_request,
)
from tk9.server.auth import OWNER_KEY, can_see, current_user, owner_meta
from tk9.server.context import AppContext, Ctx
from tk9.server.paths import parse_session_id
from tk9.server.rest_models import AppConfig, CancelResult, LanguageOption
from tk9.server.retention import remove_session
from tk9.sessions import SessionService, SessionSummary, summary
from tk9.state import SessionState

__all__ = ["SessionSummary", "router"]

router = APIRouter()


_SUBJECT_PATTERN = "[A-Za-z0-9][^\\n]*[A-Za-z0-9][^\\n]*[A-Za-z0-9]"


_LANGUAGES: list[JsonValue] = [*sorted(ISO_639_1)]


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Lengths are checked (after whitespace normalisation) by validate_request; this bound only
    # keeps absurd bodies from being parsed further.
    subject: str = Field(
        max_length=20 * MAX_SUBJECT,
        # what the schema promises is always accepted (at least 3 letters or digits, at most
        # MAX_SUBJECT characters); validate_request's own bounds are a little wider
        json_schema_extra={"maxLength": MAX_SUBJECT, "pattern": _SUBJECT_PATTERN},
    )
    language: str = Field(json_schema_extra={"enum": _LANGUAGES})  # any case accepted


class SessionCreated(BaseModel):
    session_id: str
    subject: str
    language: str
    status: RunStatus
    created_at: float
    epoch: str
    warnings: list[str] = Field(default_factory=list)
    """Known before the run starts: e.g. no translator for the language, so English only."""


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next (older) page; ``null`` on the last page."""


def encode_cursor(created_at: float, session_id: str) -> str:
    """An opaque position in the newest-first listing (it grants nothing: listings filter)."""
    return base64.urlsafe_b64encode(f"{created_at!r}/{session_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, str]:
    """``(created_at, session_id)`` of a cursor, or ``InvalidInput``."""
    try:
        created, _, sid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("/")
        return float(created), parse_session_id(sid)
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidInput):
        raise InvalidInput("cursor is not one this listing returned") from None


@router.post("/api/sessions", status_code=201)
async def create_session(body: CreateSession, request: Request, ctx: Ctx) -> SessionCreated:
    user = current_user(request)
    subject, language = validate_request(body.subject, body.language)
    if not ctx.settings.demo_producer:
        check_corpus(ctx.settings)
    if ctx.limits is not None:
        await ctx.limits.admit(user, ctx.runs.active())  # 429 + Retry-After; nothing created
        streams = await ctx.log.list_streams()
        await ctx.limits.check_quota(user, OWNER_KEY, streams, ctx.settings.outputs_dir)
    session_id = str(uuid.uuid4())
    if ctx.limits is not None:
        await ctx.limits.reserve(user, session_id)  # across nodes (Redis); 429 + Retry-After
    sessions = SessionService(ctx.log, ctx.settings.node_id, ctx.clock)
    try:
        meta = owner_meta(user, ctx.settings.auth)
        info = await sessions.create(session_id, subject, language, meta)
    except BaseException:
        if ctx.limits is not None:
            await ctx.limits.unreserve(user, session_id)
        raise
    created_at = float(info.meta["created_at"])
    ctx.storage.watch(session_id, ctx.runs.start(session_id, subject, language))
    if ctx.limits is not None:
        ctx.limits.started(user, session_id)
    route = (await language_routes(ctx))[language]
    return SessionCreated(
        warnings=[route.how] if route.method == "none" else [],
        session_id=session_id,
        subject=subject,
        language=language,
        status=RunStatus.PENDING,
        created_at=created_at,
        epoch=info.epoch,
    )


@router.get("/api/sessions")
async def list_sessions(
    request: Request,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SessionList:
    """The caller's sessions (an admin's: everyone's), newest first, ``limit`` a page."""
    return await sessions_page(ctx, current_user(request), limit, cursor)


async def sessions_page(ctx: AppContext, user: User, limit: int, cursor: str | None) -> SessionList:
    """One page of ``user``'s listing (also what the live feed sends, with no cursor)."""
    visible = [i for i in await ctx.log.list_streams() if can_see(user, i.meta)]
    start = 0
    if cursor is not None:
        created, sid = decode_cursor(cursor)
        ids = [i.session_id for i in visible]
        if sid in ids:
            start = ids.index(sid) + 1
        else:  # deleted meanwhile: continue with what is older
            start = next((n for n, i in enumerate(visible) if i.created_at < created), len(ids))
    page = visible[start : start + limit]
    out = [summary(info) for info in page]
    more = start + limit < len(visible)
    last = page[-1] if page else None
    next_cursor = encode_cursor(last.created_at, last.session_id) if more and last else None
    return SessionList(sessions=out, next_cursor=next_cursor)


@router.get("/api/sessions/{session_id}", response_model=SessionState)
async def get_snapshot(session_id: str, ctx: Ctx) -> Response:
    """The snapshot, as JSON encoded once per seq (not re-validated and re-encoded per request)."""
    body = await ctx.snapshots.get_json(parse_session_id(session_id))
    return Response(content=body, media_type="application/json")


@router.post("/api/sessions/{session_id}/cancel", status_code=202)
async def cancel_session(session_id: str, ctx: Ctx) -> CancelResult:
    sid = parse_session_id(session_id)
    await ctx.log.info(sid)  # 404 for unknown sessions
    return CancelResult(cancelled=await ctx.runs.cancel(sid))


@router.delete("/api/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, ctx: Ctx) -> Response:
    sid = parse_session_id(session_id)
    await ctx.log.info(sid)
    if sid in ctx.runs.active():
        raise Conflict("the session is still running: cancel it first")
    await remove_session(ctx, sid)
    return Response(status_code=204)


@router.get(
    "/api/health",
    responses={503: {"description": "degraded: writes fail (``cause`` says why)"}},
)
async def health(ctx: Ctx) -> JSONResponse:
    """``ok``, or 503 ``degraded`` with the ``cause`` while the data directory takes no write
    (a full disk; :mod:`tk9.server.storage`)."""
    started = time.perf_counter()
    await ctx.log.list_streams()
    cause = await ctx.storage.health()
    body = {
        "status": "degraded" if cause else "ok",
        "cause": cause,
        "version": tk9.__version__,
        "log_backend": ctx.settings.log_backend,
        "engine": ctx.settings.engine,
        "log_latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    return JSONResponse(body, status_code=503 if cause else 200)


async def language_routes(ctx: AppContext) -> dict[str, Route]:
    """How each language would be translated here: worked out once (the app's start-up calls
    this; ``apertium -l`` costs ~50 ms) and kept, since installed pairs and settings are fixed
    for the life of the process."""
    if ctx.language_routes is None:
        modes = await apertium_pairs()
        ctx.language_routes = translation_routes(
            SOURCE_LANGUAGE, modes, llm_configured=ctx.settings.engine == "llm"
        )
    return ctx.language_routes


@router.get("/api/config")
async def config(ctx: Ctx) -> AppConfig:
    """What the new-research form needs: limits, engines, and for every language how its
    report would be translated (``source``/``apertium``/``llm``/``none``, and ``via`` saying
    which pair or why not), so a run that would stay in English is announced before it starts;
    and what a run searches (``corpus``: its collections and how many documents are indexed)."""
    s = ctx.settings
    routes = await language_routes(ctx)
    corpus = await asyncio.to_thread(corpus_info, s)
    return AppConfig(
        languages=[
            LanguageOption(code=r.code, name=r.name, translation=r.method, via=r.how)
            for r in routes.values()
        ],
        source_language=SOURCE_LANGUAGE,
        translation_targets=[r.code for r in routes.values() if r.method != "none"],
        engines=[s.engine],
        min_subject=MIN_SUBJECT,
        max_subject=MAX_SUBJECT,
        heartbeat_interval=s.heartbeat_interval,
        heartbeat_timeout=s.heartbeat_timeout,
        demo=s.demo_producer,
        corpus=corpus,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(ctx: Ctx) -> Response:
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
