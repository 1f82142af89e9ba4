"""Shared start of every subscription (WebSocket, SSE, long-poll): the resume decision.

Given a session and the client's cursor it returns a started :class:`ServerConnection` and the
frames that open the stream (``hello``, plus ``reset`` with a snapshot when the cursor cannot be
served). Logs one line per decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from tk9.log.base import StreamInfo
from tk9.protocol.connection import Output, ServerConnection
from tk9.protocol.cursor import Cursor, Replay, StreamPosition, decide_resume
from tk9.server.context import AppContext
from tk9.server.logging import get_logger


@dataclass
class Subscription:
    conn: ServerConnection
    opening: list[Output]
    info: StreamInfo
    reset_reason: str | None


async def open_subscription(
    ctx: AppContext, session_id: str, cursor: Cursor, transport: str, conn_id: str
) -> Subscription:
    """Decide how to serve ``cursor``; raises ``SessionNotFound`` for an unknown session."""
    info = await ctx.log.info(session_id)
    position = StreamPosition(epoch=info.epoch, first_seq=info.first_seq, last_seq=info.last_seq)
    decision = decide_resume(cursor, position)
    conn = ServerConnection(
        session_id=session_id,
        epoch=info.epoch,
        config=ctx.protocol_config,
        now=ctx.clock.monotonic(),
    )
    log = get_logger(session_id=session_id, conn_id=conn_id, transport=transport)
    if isinstance(decision, Replay):
        opening = conn.start(decision.after, info.last_seq)
        if decision.after > 0:
            ctx.metrics.resumes.labels(transport=transport).inc()
        log.info(
            "resume" if decision.after else "subscribe",
            resume_from=decision.after,
            head=info.last_seq,
            to_replay=info.last_seq - decision.after,
            client_epoch=cursor.epoch,
        )
        return Subscription(conn, opening, info, None)
    snapshot = await ctx.snapshots.get(session_id)
    opening = conn.start_with_reset(decision.reason, snapshot, snapshot.seq)
    ctx.metrics.resets.labels(transport=transport, reason=decision.reason.value).inc()
    log.info(
        "reset",
        reason=decision.reason.value,
        client_seq=cursor.seq,
        client_epoch=cursor.epoch,
        snapshot_seq=snapshot.seq,
        head=info.last_seq,
    )
    return Subscription(conn, opening, info, decision.reason.value)
