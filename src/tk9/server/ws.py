"""``WS /ws/sessions/{id}?after=N&epoch=E``: the WebSocket port of the shared delivery path.

Everything about what to send and when lives in :mod:`tk9.server.delivery` (pull until caught
up, then pushed to by the session's broadcaster; the protocol's watchdog and heartbeats). This
module only knows the WebSocket side: under tk9's own uvicorn protocol (``tk9.frames`` in the
scope, :mod:`tk9.server.wsguard`) frames are serialised once per batch and written straight to
each socket (:class:`WsFramePort`); under any other ASGI server they are JSON text written with
the raw ASGI ``send`` (:class:`WsPort`). A *reader* feeds client frames to the state machine.
The first of the pump and the reader to end ends both.
"""

from __future__ import annotations

import contextlib
from asyncio import timeout as asyncio_timeout
from collections.abc import Coroutine, Sequence
from typing import Any
from uuid import UUID

import structlog
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from tk9.errors import CloseCode, InvalidInput, SessionNotFound, Tk9Error
from tk9.events import Entry
from tk9.protocol.connection import AckObserved, Close, Output, ServerConnection
from tk9.protocol.cursor import parse_cursor
from tk9.protocol.messages import ErrorFrame
from tk9.server.context import AppContext
from tk9.server.delivery import Closed, Data, Viewer, run_until_first_ends
from tk9.server.frames import FrameCache, text_frame
from tk9.server.hub import LiveConnection
from tk9.server.logging import get_logger
from tk9.server.subscribe import open_subscription
from tk9.server.wsguard import FRAMES_EXTENSION, GuardedWebSocketProtocol

TRANSPORT = "ws"


def encode(frame: Any) -> str:
    """Control frames -> JSON text (event frames go through the shared ``FrameCache``)."""
    text: str = frame.model_dump_json()
    return text


class WsPort:
    """Frames as WebSocket text messages, written with the raw ASGI ``send``."""

    kind = TRANSPORT
    joins_frames = False
    __slots__ = ("_frames", "_send")

    def __init__(self, send: Send, frames: FrameCache) -> None:
        self._send = send
        self._frames = frames

    def encode_events(self, events: Sequence[Entry]) -> Data:
        return self._frames.events_text(events)

    def encode_control(self, frame: Output) -> Data | None:
        return encode(frame)

    def send(self, data: Data) -> Coroutine[Any, Any, None]:
        return self._send({"type": "websocket.send", "text": data})  # type: ignore[return-value]

    def write_now(self, data: Data) -> bool | None:
        return None  # no synchronous write through ASGI


class WsFramePort:
    """Frames serialised once (shared by every viewer of a batch) and written to the socket."""

    kind = "ws-frame"
    joins_frames = False
    __slots__ = ("_frames", "proto")

    def __init__(self, proto: GuardedWebSocketProtocol, frames: FrameCache) -> None:
        self.proto = proto
        self._frames = frames

    def encode_events(self, events: Sequence[Entry]) -> Data:
        return self._frames.events_frame(events)

    def encode_control(self, frame: Output) -> Data | None:
        return text_frame(encode(frame))

    def send(self, data: Data) -> Coroutine[Any, Any, None]:
        return self.proto.send_frame(_as_frame(data))

    def write_now(self, data: Data) -> bool | None:
        return self.proto.write_frame(_as_frame(data))


def _as_frame(data: Data) -> bytes:
    return data if isinstance(data, bytes) else text_frame(data)


def ws_port(scope: Scope, send: Send, frames: FrameCache) -> WsPort | WsFramePort:
    """The fast port when tk9's uvicorn protocol serves the socket, else plain ASGI."""
    proto = scope.get("extensions", {}).get(FRAMES_EXTENSION)
    if isinstance(proto, GuardedWebSocketProtocol):
        return WsFramePort(proto, frames)
    return WsPort(send, frames)


class WsDriver:
    def __init__(self, ctx: AppContext, ws: WebSocket, conn: ServerConnection, conn_id: str):
        self.ctx = ctx
        self.ws = ws
        self.conn = conn
        self.conn_id = conn_id
        port = ws_port(ws.scope, ws._send, ctx.frames)
        self.viewer = Viewer(ctx, conn, port, TRANSPORT)
        self.proto = port.proto if isinstance(port, WsFramePort) else None

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger:
        """Bound on demand: one line per decision, so most connections never need one."""
        return get_logger(
            session_id=self.conn.session_id, conn_id=self.conn_id, transport=TRANSPORT
        )

    async def send_outputs(self, outputs: list[Output]) -> int:
        """Write frames in order; returns how many events went out. Raises on Close."""
        return await self.viewer.send_outputs(outputs)

    async def reader(self) -> None:
        receive = self.ws._receive  # raw ASGI: the socket is accepted, no state to track
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1005))
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            outputs = self.conn.receive(data, self.ctx.clock.monotonic())
            if outputs:
                await self.viewer.send_outputs(outputs)
            elif self.conn.closed is not None:  # a bad ack taken by :meth:`take_text`
                raise Closed(self.conn.closed)

    def take_text(self, text: str) -> bool:
        """The protocol's synchronous hook: take plain acks where they arrive."""
        outputs = self.conn.receive_ack(text, self.ctx.clock.monotonic())
        if outputs is None:
            return False
        for out in outputs:
            if not isinstance(out, AckObserved):
                return False  # a close: the reader, handed this frame, ends the connection
            self.viewer.observe(out)
        return True

    async def run(self) -> str:
        """Serve until the connection ends; returns the reason, for the disconnect log line."""
        if self.proto is not None:
            self.proto.on_text = self.take_text
        try:
            exc = await run_until_first_ends(self.viewer.pump(), self.reader())
        finally:
            if self.proto is not None:
                self.proto.on_text = None
        if isinstance(exc, Closed):
            await self.close(exc.close)
            return exc.close.reason
        if isinstance(exc, WebSocketDisconnect):
            return f"client closed ({exc.code})"
        if isinstance(exc, OSError):  # uvicorn's ClientDisconnected: the peer is gone
            return f"disconnected ({exc!r})"
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
            async with asyncio_timeout(2.0):
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
    ctx.broadcasts.attach(sid, sub.info.last_seq)

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
    except Closed as exc:
        await driver.close(exc.close)
        reason = exc.close.reason
    except (WebSocketDisconnect, RuntimeError, OSError) as exc:
        reason = f"disconnected ({exc!r})"
    finally:
        ctx.broadcasts.detach(sid)
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
