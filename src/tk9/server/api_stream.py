"""Long-poll and Server-Sent Events: the same cursor, the same resume decision as WebSocket.

SSE is a port of the shared delivery path (:mod:`tk9.server.delivery`): the same pump pulls
until caught up and the session's broadcaster pushes to it after that. Its writes go into a
small bounded buffer that the response body drains (``sse_starlette`` owns the socket and its
keepalive); a full buffer is a write that suspends, exactly like a WebSocket that is not
writable. Long-poll is one read through the same :meth:`ServerConnection.feed`; a gap there is
answered like a stale cursor, with a ``reset``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from tk9.events import Entry
from tk9.protocol.connection import Close, Output
from tk9.protocol.cursor import Cursor, parse_cursor
from tk9.protocol.messages import (
    ErrorFrame,
    EventsPage,
    Hello,
    Reset,
    frame_events,
)
from tk9.server.context import AppContext, Ctx
from tk9.server.delivery import Closed, Data, Viewer
from tk9.server.hub import LiveConnection
from tk9.server.logging import get_logger
from tk9.server.paths import parse_session_id
from tk9.server.subscribe import Subscription, open_subscription

router = APIRouter()

_SSE_BUFFER = 16
"""Writes an SSE stream may hold before its writes suspend (each is one batch of events)."""

SEQ_SCHEMA: dict[str, Any] = {"pattern": "^(-?[0-9]{1,19})?$"}
"""What ``after`` may be (documented only: parse_cursor gives the error its own message)."""
EPOCH_SCHEMA: dict[str, Any] = {"pattern": "^[ -~]*$"}


@router.get("/api/sessions/{session_id}/events")
async def long_poll(
    session_id: str,
    ctx: Ctx,
    after: Annotated[str, Query(max_length=24, json_schema_extra=SEQ_SCHEMA)] = "",
    epoch: Annotated[str, Query(max_length=64, json_schema_extra=EPOCH_SCHEMA)] = "",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    wait: Annotated[float, Query(ge=0, le=300)] = 0,
) -> EventsPage:
    """Events after the cursor; with ``wait`` > 0, hold the request until one arrives."""
    sid = parse_session_id(session_id)
    cursor = parse_cursor(after, epoch)
    page = await _poll_once(ctx, sid, cursor, limit, wait)
    if page is None:  # a gap under our read (trimmed meanwhile): decide again -> reset
        page = await _poll_once(ctx, sid, cursor, limit, 0)
    if page is None:
        raise RuntimeError("log keeps changing under the cursor")  # pragma: no cover
    return page


async def _poll_once(
    ctx: AppContext, sid: str, cursor: Cursor, limit: int, wait: float
) -> EventsPage | None:
    conn_id = ctx.hub.new_id("poll")
    sub = await open_subscription(ctx, sid, cursor, "poll", conn_id)
    conn = sub.conn
    reset = next((f.snapshot for f in sub.opening if isinstance(f, Reset)), None)
    events = await ctx.log.read(sid, conn.cursor, limit)
    if not events and wait > 0:
        timeout = min(wait, ctx.settings.longpoll_max_wait)
        if await ctx.log.wait(sid, conn.cursor, timeout):
            events = await ctx.log.read(sid, conn.cursor, limit)
    outs = conn.feed(events, ctx.clock.monotonic())
    if any(isinstance(o, Close) for o in outs):
        return None
    delivered = [e for f in outs for e in frame_events(f)]
    ctx.metrics.delivered.labels(transport="poll").inc(len(delivered))
    head = delivered[-1].seq if delivered else max(conn.cursor, sub.info.last_seq)
    return EventsPage(
        session_id=sid, epoch=sub.info.epoch, head=head, events=delivered, reset=reset
    )


def _message_text(events: Sequence[Entry]) -> str:
    """One SSE message: ``event: event`` for one event (``data``: the event), ``event: events``
    for several (``data``: the WebSocket ``events`` frame); ``id`` is the last seq either way.
    Built by hand, without ``ServerSentEvent.encode``'s per-line scan: JSON text is one line
    (it escapes every line break in a string)."""
    last = events[-1]
    if len(events) == 1:
        return f"id: {last.seq}\r\nevent: event\r\ndata: {last.to_json()}\r\n\r\n"
    body = ",".join([e.to_json() for e in events])
    return f'id: {last.seq}\r\nevent: events\r\ndata: {{"type":"events","events":[{body}]}}\r\n\r\n'


class SsePort:
    """SSE messages into a bounded buffer the body drains: consecutive events go out as
    ``events`` messages of up to ``max_events`` (the WebSocket frame's cap), so a client
    parses and dispatches one message per hundred events of a replay, not one per event."""

    kind = "sse"
    joins_frames = True
    __slots__ = ("max_events", "queue")

    def __init__(self, max_events: int = 100) -> None:
        self.max_events = max(1, max_events)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(_SSE_BUFFER)

    def encode_events(self, events: Sequence[Entry]) -> Data:
        step = self.max_events
        if len(events) <= step:
            return _message_text(events).encode()
        chunks = [_message_text(events[i : i + step]) for i in range(0, len(events), step)]
        return "".join(chunks).encode()

    def encode_control(self, frame: Output) -> Data | None:
        if isinstance(frame, Reset):
            data = frame.model_dump_json()
            return ServerSentEvent(data=data, event="reset", id=str(frame.snapshot.seq)).encode()
        if isinstance(frame, Hello):
            return ServerSentEvent(data=frame.model_dump_json(), event="hello").encode()
        if isinstance(frame, ErrorFrame):
            return ServerSentEvent(data=frame.model_dump_json(), event="error").encode()
        return None  # no pings/pongs: sse_starlette's keepalive covers SSE

    def send(self, data: Data) -> Coroutine[Any, Any, None]:
        return self.queue.put(data if isinstance(data, bytes) else data.encode())

    def write_now(self, data: Data) -> bool | None:
        try:
            self.queue.put_nowait(data if isinstance(data, bytes) else data.encode())
        except asyncio.QueueFull:
            return False
        return True


async def _run_sse(ctx: AppContext, viewer: Viewer, port: SsePort, stop: asyncio.Event) -> str:
    """The pump, until it closes or the server drops the stream; ends the body either way."""
    pump = asyncio.ensure_future(viewer.pump())
    stopper = asyncio.ensure_future(stop.wait())
    reason = "dropped by the server"
    try:
        await asyncio.wait({pump, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if pump.done() and not pump.cancelled():
            exc = pump.exception()
            if isinstance(exc, Closed):
                reason = exc.close.reason
                if exc.close.frame is not None:
                    data = port.encode_control(exc.close.frame)
                    if data is not None and not port.queue.full():
                        port.queue.put_nowait(data if isinstance(data, bytes) else data.encode())
            elif exc is not None:
                reason = f"error {exc!r}"
    finally:
        for task in (pump, stopper):
            task.cancel()
        await asyncio.wait({pump, stopper})
        if port.queue.full():
            port.queue.get_nowait()
        port.queue.put_nowait(None)
    return reason


@router.get("/api/sessions/{session_id}/stream")
async def sse_stream(
    session_id: str,
    request: Request,
    ctx: Ctx,
    after: Annotated[str, Query(max_length=24, json_schema_extra=SEQ_SCHEMA)] = "",
    epoch: Annotated[str, Query(max_length=64, json_schema_extra=EPOCH_SCHEMA)] = "",
    last_event_id: Annotated[str, Header(max_length=24, json_schema_extra=SEQ_SCHEMA)] = "",
) -> EventSourceResponse:
    """Server-Sent Events; ``id:`` is the seq, so ``Last-Event-ID`` resumes natively."""
    sid = parse_session_id(session_id)
    cursor = parse_cursor(after, epoch, last_event_id)
    conn_id = ctx.hub.new_id("sse")
    sub: Subscription = await open_subscription(ctx, sid, cursor, "sse", conn_id)
    sub.conn.heartbeats = False
    stop = asyncio.Event()

    async def drop(code: int) -> None:
        stop.set()

    live = LiveConnection(conn_id, sid, "sse", drop)
    log = get_logger(session_id=sid, conn_id=conn_id, transport="sse")

    async def stream() -> AsyncIterator[bytes]:
        port = SsePort(ctx.protocol_config.max_batch_events)
        viewer = Viewer(ctx, sub.conn, port, "sse")
        for frame in sub.opening:
            data = port.encode_control(frame)
            if data is not None:
                yield data if isinstance(data, bytes) else data.encode()
        ctx.hub.add(live)
        ctx.broadcasts.attach(sid, sub.info.last_seq)
        ctx.metrics.connections.labels(transport="sse").inc()
        ctx.metrics.connections_total.labels(transport="sse").inc()
        runner = asyncio.ensure_future(_run_sse(ctx, viewer, port, stop))
        reason = "client went away"
        try:
            while (chunk := await port.queue.get()) is not None:
                yield chunk
            reason = await runner
        finally:
            runner.cancel()
            ctx.broadcasts.detach(sid)
            ctx.hub.remove(live)
            ctx.metrics.connections.labels(transport="sse").dec()
            log.info(
                "disconnect",
                reason=reason,
                cursor=sub.conn.cursor,
                delivered=sub.conn.stats.delivered,
                replayed=sub.conn.stats.replayed,
            )

    return sse_response(ctx, stream())


def sse_response(
    ctx: AppContext, stream: AsyncIterator[bytes] | AsyncIterator[ServerSentEvent]
) -> EventSourceResponse:
    """An SSE response as every tk9 stream sends it: named ``ping`` keep-alives, the send
    timeout, and no caching or proxy buffering."""

    def keepalive() -> ServerSentEvent:
        # A named event, not a comment: EventSource never surfaces comments, and the
        # dashboard's watchdog needs to see that a silent stream is still alive.
        return ServerSentEvent(data=f'{{"type":"ping","ts":{ctx.clock.wall():.3f}}}', event="ping")

    return EventSourceResponse(
        stream,
        ping=int(max(1, ctx.settings.sse_keepalive)),
        ping_message_factory=keepalive,
        send_timeout=ctx.settings.send_timeout,
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )
