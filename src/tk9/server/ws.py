"""``WS /ws/sessions/{id}?after=N&epoch=E``: a thin asyncio loop around the pure protocol.

Two coroutines share one connection: the *pump* reads the log after the cursor and writes event
frames (so a slow socket only slows its own pump — the log is the buffer), and between batches
sleeps on the log until new entries or the protocol's next deadline, when it calls ``tick``
(heartbeats, dead-peer detection); a send that takes longer than ``send_timeout`` closes a slow
consumer. The *reader* feeds client frames to the state machine. The first to end ends both.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from uuid import UUID

import structlog
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from tk9.errors import CloseCode, InvalidInput, SessionNotFound, Tk9Error
from tk9.protocol.connection import AckObserved, Close, Output, ServerConnection
from tk9.protocol.cursor import parse_cursor
from tk9.protocol.messages import ErrorFrame, EventFrame, EventsFrame
from tk9.server.context import AppContext
from tk9.server.hub import LiveConnection
from tk9.server.logging import get_logger
from tk9.server.subscribe import open_subscription

TRANSPORT = "ws"


def encode(frame: Any) -> str:
    """Control frames -> JSON text (event frames go through the shared ``FrameCache``)."""
    text: str = frame.model_dump_json()
    return text


def _consume(task: asyncio.Task[None]) -> None:
    """Mark a task's outcome as seen (it ended with its connection; nothing to report)."""
    if not task.cancelled():
        task.exception()


class _Closed(Exception):
    def __init__(self, close: Close) -> None:
        self.close = close


class WsDriver:
    def __init__(self, ctx: AppContext, ws: WebSocket, conn: ServerConnection, conn_id: str):
        self.ctx = ctx
        self.ws = ws
        self.conn = conn
        self.conn_id = conn_id
        self.send_lock = asyncio.Lock()
        self.delivered = ctx.metrics.delivered.labels(transport=TRANSPORT)

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger:
        """Bound on demand: one line per decision, so most connections never need one."""
        return get_logger(
            session_id=self.conn.session_id, conn_id=self.conn_id, transport=TRANSPORT
        )

    async def send_outputs(self, outputs: list[Output]) -> int:
        """Write frames in order; returns how many event frames went out. Raises on Close."""
        events = 0
        async with self.send_lock:
            for out in outputs:
                if isinstance(out, Close):
                    raise _Closed(out)
                if isinstance(out, AckObserved):
                    if out.lag is not None:
                        self.ctx.metrics.delivery_lag.observe(out.lag)
                    continue
                if isinstance(out, EventFrame):
                    await self.ws.send_text(self.ctx.frames.text(out))
                    events += 1
                elif isinstance(out, EventsFrame):
                    await self.ws.send_text(self.ctx.frames.text(out))
                    events += len(out.events)
                else:
                    await self.ws.send_text(encode(out))
        return events

    async def pump(self) -> None:
        """Log -> socket, plus heartbeats: tick at each deadline, otherwise sleep on the log."""
        ctx, conn, sid, clock = self.ctx, self.conn, self.conn.session_id, self.ctx.clock
        batch = ctx.settings.replay_batch
        stalls = 0
        while True:
            deadline = conn.next_deadline()
            if deadline is not None and clock.monotonic() >= deadline:
                await self.send_outputs(conn.tick(clock.monotonic()))
                continue
            room = conn.read_request()
            events = await ctx.log.read(sid, conn.cursor, min(room, batch)) if room else []
            if not events:
                if deadline is None:
                    return
                await ctx.log.wait(sid, conn.cursor, max(0.0, deadline - clock.monotonic()))
                continue
            frames = conn.feed(events, clock.monotonic())
            if not frames:
                stalls += 1
                if stalls > 3:  # the log returned a hole: never skip it, let the client resume
                    raise _Closed(Close(int(CloseCode.INTERNAL_ERROR), "log gap"))
                continue
            stalls = 0
            try:
                async with asyncio.timeout(ctx.settings.send_timeout):
                    sent = await self.send_outputs(frames)
            except TimeoutError:
                # the viewer accepted nothing for send_timeout: the protocol says slow consumer
                await self.send_outputs(conn.tick(clock.monotonic()))
                raise
            conn.sent(sent, clock.monotonic())
            self.delivered.inc(sent)

    async def reader(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1005))
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            outputs = self.conn.receive(data, self.ctx.clock.monotonic())
            if outputs:
                await self.send_outputs(outputs)

    async def run(self) -> str:
        """Serve until the connection ends; returns the reason, for the disconnect log line."""
        tasks = [asyncio.create_task(self.pump()), asyncio.create_task(self.reader())]
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # cancelled from outside (server shutdown): stop both sides and leave at once,
            # with no further await that could swallow or double the cancellation
            for task in tasks:
                task.cancel()
                task.add_done_callback(_consume)
            raise
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        exc = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        if isinstance(exc, _Closed):
            await self.close(exc.close)
            return exc.close.reason
        if isinstance(exc, WebSocketDisconnect):
            return f"client closed ({exc.code})"
        if isinstance(exc, TimeoutError):
            close = self.conn.closed or Close(int(CloseCode.SLOW_CONSUMER), "slow consumer")
            await self.close(close)
            return close.reason
        if exc is not None:
            self.log.error("connection_error", error=repr(exc))
            await self.close(Close(int(CloseCode.INTERNAL_ERROR), "internal error"))
            return "internal error"
        return "ended"

    async def close(self, close: Close) -> None:
        self.ctx.metrics.closes.labels(code=str(close.code)).inc()
        if close.code in (CloseCode.HEARTBEAT_TIMEOUT, CloseCode.SLOW_CONSUMER):
            self.log.warning("server_close", code=close.code, reason=close.reason)
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                if close.frame is not None:
                    await self.ws.send_text(close.frame.model_dump_json())
                await self.ws.close(code=close.code, reason=close.reason)


async def _refuse(ws: WebSocket, error: Tk9Error, code: CloseCode) -> None:
    frame = ErrorFrame(
        code=error.code, message=error.message, retryable=False, close_code=int(code)
    )
    with contextlib.suppress(Exception):
        await ws.send_text(frame.model_dump_json())
        await ws.close(code=int(code), reason=error.message[:120])


WS_PREFIX = "/ws/sessions/"


def is_session_socket(scope: Scope) -> bool:
    """Whether an ASGI scope is a viewer's WebSocket (served by :func:`serve_session_socket`)."""
    return scope["type"] == "websocket" and str(scope["path"]).startswith(WS_PREFIX)


async def serve_session_socket(ctx: AppContext, scope: Scope, receive: Receive, send: Send) -> None:
    """``WS /ws/sessions/{id}?after=N&epoch=E``, as a plain ASGI handler.

    It sits in front of the FastAPI app instead of behind its routing and middleware: a viewer
    connection then costs less memory, and each frame it sends passes through no wrappers.
    """
    ws = WebSocket(scope, receive, send)
    await ws.accept()
    conn_id = ctx.hub.new_id(TRANSPORT)
    raw_id = str(scope["path"])[len(WS_PREFIX) :]
    try:
        sid = str(UUID(raw_id))
    except ValueError:
        await _refuse(
            ws, SessionNotFound(f"no session {raw_id[:64]!r}"), CloseCode.SESSION_NOT_FOUND
        )
        return
    try:
        params = ws.query_params
        cursor = parse_cursor(params.get("after"), params.get("epoch"))
        sub = await open_subscription(ctx, sid, cursor, TRANSPORT, conn_id)
    except SessionNotFound as exc:
        await _refuse(ws, exc, CloseCode.SESSION_NOT_FOUND)
        return
    except InvalidInput as exc:
        await _refuse(ws, exc, CloseCode.BAD_CURSOR)
        return
    driver = WsDriver(ctx, ws, sub.conn, conn_id)

    async def drop(code: int) -> None:
        await driver.close(Close(code, "dropped by the server"))

    live = LiveConnection(conn_id, sid, TRANSPORT, drop)
    ctx.hub.add(live)
    ctx.metrics.connections.labels(transport=TRANSPORT).inc()
    ctx.metrics.connections_total.labels(transport=TRANSPORT).inc()
    reason = "unknown"
    try:
        await driver.send_outputs(sub.opening)
        reason = await driver.run()
    except (WebSocketDisconnect, RuntimeError, OSError) as exc:
        reason = f"disconnected ({exc!r})"
    finally:
        ctx.hub.remove(live)
        ctx.metrics.connections.labels(transport=TRANSPORT).dec()
        stats = sub.conn.stats
        driver.log.info(
            "disconnect",
            reason=reason,
            cursor=sub.conn.cursor,
            delivered=stats.delivered,
            replayed=stats.replayed,
            acked=stats.acked,
        )
