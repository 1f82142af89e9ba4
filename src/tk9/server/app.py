"""The app factory: builds every part from one ``Settings`` and wires the routes."""

from __future__ import annotations

import asyncio
import gc
import math
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

import tk9
from tk9.clock import Clock, SystemClock
from tk9.errors import RateLimited, Tk9Error
from tk9.jobs.admission import RunAdmission
from tk9.log.base import EventLog
from tk9.log.factory import make_event_log
from tk9.log.snapshot_store import make_snapshot_store
from tk9.server import (
    api_auth,
    api_feed,
    api_files,
    api_sessions,
    api_stream,
    api_testhooks,
    openapi,
    ws,
)
from tk9.server.auth import AccessGate
from tk9.server.context import AppContext, Runs
from tk9.server.demo import DemoRuns
from tk9.server.edge import Edge
from tk9.server.limits import Limits
from tk9.server.logging import get_logger
from tk9.server.metrics import Metrics
from tk9.server.retention import retention_loop
from tk9.server.snapshots import SnapshotCache, SnapshotKeeper
from tk9.server.static import mount_dashboard
from tk9.server.storage import DISK_FULL, is_disk_full
from tk9.server.tracking import TrackingLog
from tk9.settings import Settings


def _make_runs(log: EventLog, settings: Settings, clock: Clock) -> Runs:
    if settings.run_mode == "queue":  # workers execute (the demo script too, if asked)
        from tk9.jobs.queue import QueueRuns

        return QueueRuns(log, settings, clock)
    if settings.demo_producer:
        return DemoRuns(log, settings)
    from tk9.research.runner import RunManager

    runs: Runs = RunManager(log, settings, clock)
    return runs


def _shared_admission(log: EventLog, settings: Settings) -> RunAdmission | None:
    """Per-user run limits counted in Redis when nodes share the Redis log (accounts)."""
    if settings.log_backend != "redis" or settings.auth == "none":
        return None
    return RunAdmission(settings.redis_url, log)


class Tk9App:
    """The ASGI app: the edge checks (:mod:`tk9.server.edge`), then the access gate
    (:mod:`tk9.server.auth`), then viewers' WebSockets straight to their handler and the rest
    to FastAPI."""

    def __init__(self, api: FastAPI, ctx: AppContext) -> None:
        self.api = api
        self.ctx = ctx
        self.edge = Edge(AccessGate(self.dispatch, ctx), ctx.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.edge(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """After the gate: viewers' sockets to their handler, everything else to FastAPI."""
        if ws.is_session_socket(scope):
            await ws.serve_session_socket(self.ctx, scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(settings: Settings, clock: Clock | None = None) -> Tk9App:
    """Build the ASGI app. Nothing is opened until the lifespan starts."""
    clock = clock or SystemClock()
    metrics = Metrics()
    tracked = TrackingLog(make_event_log(settings, clock), metrics)
    snapshots = SnapshotCache(tracked, make_snapshot_store(settings), batch=settings.replay_batch)
    log = SnapshotKeeper(tracked, snapshots)
    ctx = AppContext(
        settings=settings,
        clock=clock,
        log=log,
        runs=_make_runs(log, settings, clock),
        metrics=metrics,
        snapshots=snapshots,
        limits=Limits(settings, clock, _shared_admission(log, settings)),
        changes=tracked.changes,
    )
    logger = get_logger()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.outputs_dir.mkdir(parents=True, exist_ok=True)
        await log.open()
        if settings.auth == "accounts":
            from tk9.accounts.store import open_user_store

            ctx.users = open_user_store(settings)
        disk_full = await ctx.storage.recover()  # before: these did not stop with the server
        interrupted = await ctx.runs.mark_interrupted()
        await api_sessions.language_routes(ctx)  # read installed Apertium pairs once
        # The start-up heap (every imported module) lives as long as the process: keep the
        # cyclic collector from walking it again on each full collection, which otherwise
        # lands tens of ms in a random request (a snapshot p99 is mostly that).
        gc.collect()
        gc.freeze()
        logger.info(
            "started",
            log_backend=settings.log_backend,
            data_dir=str(settings.data_dir),
            interrupted_runs=len(interrupted),
            disk_full_runs=len(disk_full),
            demo_producer=settings.demo_producer,
            auth=settings.auth,
        )
        sweeper = asyncio.create_task(retention_loop(ctx)) if settings.retention_days else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            await ctx.runs.shutdown()
            await ctx.storage.stop()
            await ctx.hub.drop_all(1012)
            await ctx.broadcasts.close()
            await log.close()
            if ctx.limits is not None:
                await ctx.limits.close()
            if ctx.users is not None:
                ctx.users.close()
                ctx.users = None
            logger.info("stopped")

    app = FastAPI(title="tk9", version=tk9.__version__, lifespan=lifespan)
    app.state.ctx = ctx

    @app.exception_handler(Tk9Error)
    async def tk9_error(request: Request, exc: Tk9Error) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)

    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.OperationalError)
    async def storage_error(request: Request, exc: Exception) -> JSONResponse:
        """A full disk is the server's state, not a bug: 503 with the cause (else a 500)."""
        if not is_disk_full(exc):
            raise exc
        ctx.storage.cause = DISK_FULL
        error = {"code": "storage_full", "message": DISK_FULL, "retryable": True}
        return JSONResponse({"error": error}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()[:10]]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        message = f"{'.'.join(first['loc'][1:]) or 'request'}: {first['msg']}"
        body = {
            "error": {
                "code": "invalid_input",
                "message": message,
                "retryable": False,
                "details": {"errors": details},
            }
        }
        return JSONResponse(body, status_code=422)

    openapi.install(app)
    app.include_router(api_auth.router)
    app.include_router(api_feed.router)
    app.include_router(api_sessions.router)
    app.include_router(api_stream.router)
    app.include_router(api_files.router)
    if settings.test_hooks:
        app.include_router(api_testhooks.router)
    mount_dashboard(app, settings.static_dir)
    return Tk9App(app, ctx)
