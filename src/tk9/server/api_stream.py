"""Long-poll and Server-Sent Events: the same cursor, the same resume decision as WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from tk9.protocol.cursor import parse_cursor
from tk9.protocol.messages import EventFrame, EventsPage, Hello, Reset, frame_events
from tk9.server.context import AppContext, Ctx
from tk9.server.hub import LiveConnection
from tk9.server.logging import get_logger
from tk9.server.paths import parse_session_id
from tk9.server.subscribe import Subscription, open_subscription

router = APIRouter()


@router.get("/api/sessions/{session_id}/events")
async def long_poll(
    session_id: str,
    ctx: Ctx,
    after: Annotated[str | None, Query(max_length=24)] = None,
    epoch: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    wait: Annotated[float, Query(ge=0, le=300)] = 0,
) -> EventsPage:
    """Events after the cursor; with ``wait`` > 0, hold the request until one arrives."""
    sid = parse_session_id(session_id)
    cursor = parse_cursor(after, epoch)
    conn_id = ctx.hub.new_id("poll")
    sub = await open_subscription(ctx, sid, cursor, "poll", conn_id)
    conn = sub.conn
    reset = next((f.snapshot for f in sub.opening if isinstance(f, Reset)), None)
    events = await ctx.log.read(sid, conn.cursor, limit)
    if not events and wait > 0:
        timeout = min(wait, ctx.settings.longpoll_max_wait)
        if await ctx.log.wait(sid, conn.cursor, timeout):
            events = await ctx.log.read(sid, conn.cursor, limit)
    frames = conn.feed(events, ctx.clock.monotonic())
    delivered = [e for f in frames for e in frame_events(f)]
    ctx.metrics.delivered.labels(transport="poll").inc(len(delivered))
    head = delivered[-1].seq if delivered else max(conn.cursor, sub.info.last_seq)
    return EventsPage(
        session_id=sid, epoch=sub.info.epoch, head=head, events=delivered, reset=reset
    )


def _sse(frame: Hello | Reset | EventFrame) -> ServerSentEvent:
    if isinstance(frame, EventFrame):
        return ServerSentEvent(data=frame.event.to_json(), event="event", id=str(frame.event.seq))
    if isinstance(frame, Reset):
        return ServerSentEvent(
            data=frame.model_dump_json(), event="reset", id=str(frame.snapshot.seq)
        )
    return ServerSentEvent(data=frame.model_dump_json(), event="hello")


async def _sse_stream(
    ctx: AppContext, request: Request, sub: Subscription, stop: asyncio.Event
) -> AsyncIterator[ServerSentEvent]:
    conn, sid = sub.conn, sub.conn.session_id
    for frame in sub.opening:
        if isinstance(frame, Hello | Reset | EventFrame):
            yield _sse(frame)
    while not stop.is_set():
        events = await ctx.log.read(sid, conn.cursor, ctx.settings.replay_batch)
        if not events:
            waiter = asyncio.create_task(ctx.log.wait(sid, conn.cursor, 30.0))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            continue
        frames = conn.feed(events, ctx.clock.monotonic())
        sent = 0
        for frame in frames:
            for event in frame_events(frame):  # SSE: one message per event, id = its seq
                yield _sse(EventFrame.model_construct(event=event))
                sent += 1
        conn.sent(sent, ctx.clock.monotonic())
        ctx.metrics.delivered.labels(transport="sse").inc(sent)


@router.get("/api/sessions/{session_id}/stream")
async def sse_stream(
    session_id: str,
    request: Request,
    ctx: Ctx,
    after: Annotated[str | None, Query(max_length=24)] = None,
    epoch: Annotated[str | None, Query(max_length=64)] = None,
    last_event_id: Annotated[str | None, Header(max_length=24)] = None,
) -> EventSourceResponse:
    """Server-Sent Events; ``id:`` is the seq, so ``Last-Event-ID`` resumes natively."""
    sid = parse_session_id(session_id)
    cursor = parse_cursor(after, epoch, last_event_id)
    conn_id = ctx.hub.new_id("sse")
    sub = await open_subscription(ctx, sid, cursor, "sse", conn_id)
    stop = asyncio.Event()

    async def drop(code: int) -> None:
        stop.set()

    live = LiveConnection(conn_id, sid, "sse", drop)
    log = get_logger(session_id=sid, conn_id=conn_id, transport="sse")

    async def stream() -> AsyncIterator[ServerSentEvent]:
        ctx.hub.add(live)
        ctx.metrics.connections.labels(transport="sse").inc()
        ctx.metrics.connections_total.labels(transport="sse").inc()
        reason = "client went away"
        try:
            async for item in _sse_stream(ctx, request, sub, stop):
                yield item
            reason = "dropped by the server"
        finally:
            ctx.hub.remove(live)
            ctx.metrics.connections.labels(transport="sse").dec()
            log.info(
                "disconnect",
                reason=reason,
                cursor=sub.conn.cursor,
                delivered=sub.conn.stats.delivered,
                replayed=sub.conn.stats.replayed,
            )

    def keepalive() -> ServerSentEvent:
        # A named event, not a comment: EventSource never surfaces comments, and the
        # dashboard's watchdog needs to see that a silent stream is still alive.
        return ServerSentEvent(data=f'{{"type":"ping","ts":{ctx.clock.wall():.3f}}}', event="ping")

    return EventSourceResponse(
        stream(),
        ping=int(max(1, ctx.settings.sse_keepalive)),
        ping_message_factory=keepalive,
        send_timeout=ctx.settings.send_timeout,
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )
