"""uvicorn's sans-I/O WebSocket protocol with limits on what one peer can make the server hold.

Issue 10 measured a client that sends WebSocket *ping* frames as fast as it can and never
reads: every ping is answered by a pong that stock uvicorn writes to the socket whatever the
peer's state, so the server's write buffer grew by ~10 MiB/s (+285 MiB) and another viewer's
round trip went from 0.9 ms to 1.3 s; and once the app gave up on the peer, closing the
transport waited for that buffer to drain, forever. Pings never reach the ASGI app, so this
can only be fixed in the protocol object. :class:`GuardedWebSocketProtocol` adds four things:

* **an inbound budget** per connection (:class:`FrameBudget`): frames of any kind (ping, pong,
  text, binary, continuation) and payload bytes, each a token bucket. A peer over it gets a
  close frame **1008** (policy violation: "too many frames"), is read no further, and its
  transport is aborted if it does not take the close frame;
* **backpressure**: while the socket's write buffer is over its high-water mark (the peer is
  not reading), the server stops reading from it too, so nothing it sends is turned into more
  output — its kernel buffers fill and its own writes block;
* **a reading test** (the dead-peer limit): every ``heartbeat_interval`` the server sends a
  WebSocket ping with a random payload, and a peer that has not answered it with the matching
  pong within ``heartbeat_timeout`` is closed **4500** like the protocol's heartbeat does —
  25 s by default. Every WebSocket client (browsers, ``websockets``) answers pings by itself
  as long as it reads, and the payload cannot be answered without reading it, so a peer that
  never reads is closed at 25 s *whatever it sends*: the protocol's own heartbeat counts any
  frame as a sign of life, so one tiny valid frame every few seconds kept such a peer open.
  This is uvicorn's own keep-alive (``ws_ping_interval`` / ``ws_ping_timeout``, payload
  matching included) bound to the heartbeat settings, with the close made bounded below;
* **a bounded close**: when the app is done with a connection (heartbeat timeout, slow
  consumer, any close) and the peer is not reading, the transport is aborted at once instead of
  waiting for a buffer that will never drain; otherwise after ``close_grace`` (3 s) at the latest.

It also offers the app one fast path, as the ASGI extension ``tk9.frames`` (issue 9): a server
frame serialised *once* (by ``websockets``) for every viewer of a broadcast batch is written
straight to each transport (:meth:`GuardedWebSocketProtocol.write_frame`), instead of one ASGI
``send`` per viewer that builds and serialises the same frame again. Server frames are never
masked and tk9 negotiates no extension, so the bytes are the same for every connection. And
inbound, the app may set :attr:`GuardedWebSocketProtocol.on_text` to take text messages where
they arrive (tk9's viewer socket takes its plain acks there: one client frame in five at 10
events/s, each otherwise an ASGI message, a task switch and a read pause).

Tune with ``TK9_WS_FRAMES_PER_SECOND`` / ``TK9_WS_FRAME_BURST`` and ``TK9_WS_BYTES_PER_SECOND``
/ ``TK9_WS_BYTE_BURST`` (docs/security.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

from tk9.errors import CloseCode
from tk9.settings import Settings

FRAMES_EXTENSION = "tk9.frames"
"""Scope extension holding the connection's :class:`GuardedWebSocketProtocol` (fast writes)."""
FLOOD_REASON = "too many frames"
DEAD_REASON = "no pong to a ping within the heartbeat timeout"


@dataclass(slots=True)
class FrameBudget:
    """Two token buckets (frames, payload bytes) refilled continuously; pure, time passed in."""

    frames_per_second: float
    frame_burst: float
    bytes_per_second: float
    byte_burst: float
    frames: float = field(init=False)
    bytes: float = field(init=False)
    at: float | None = None

    def __post_init__(self) -> None:
        self.frames = self.frame_burst
        self.bytes = self.byte_burst

    def take(self, frames: int, nbytes: int, now: float) -> bool:
        """Spend ``frames`` frames and ``nbytes`` bytes; ``False`` when either bucket runs dry."""
        if self.at is not None:
            elapsed = max(0.0, now - self.at)
            self.frames = min(self.frame_burst, self.frames + elapsed * self.frames_per_second)
            self.bytes = min(self.byte_burst, self.bytes + elapsed * self.bytes_per_second)
        self.at = now
        self.frames -= frames
        self.bytes -= nbytes
        return self.frames >= 0 and self.bytes >= 0

    @classmethod
    def from_settings(cls, settings: Settings) -> FrameBudget:
        return cls(
            frames_per_second=settings.ws_frames_per_second,
            frame_burst=settings.ws_frame_burst,
            bytes_per_second=settings.ws_bytes_per_second,
            byte_burst=settings.ws_byte_burst,
        )


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """See the module docstring; build the class for a ``Settings`` with :func:`guarded_ws`."""

    settings: ClassVar[Settings]
    close_grace: ClassVar[float] = 3.0
    """Seconds the peer has to answer our close frame before the TCP connection is dropped
    (stock uvicorn: 10 s, then a graceful close that waits for the write buffer to drain)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = self.close_grace
        self.ping_interval = self.settings.heartbeat_interval  # uvicorn's keep-alive, as ours
        self.ping_timeout = self.settings.heartbeat_timeout
        self.budget = FrameBudget.from_settings(self.settings)
        self.write_paused = False
        self.guard_closed = False
        self.abort_handle: asyncio.TimerHandle | None = None
        self.on_text: Callable[[str], bool] | None = None
        """The app's synchronous taker of text messages (``True``: taken; ``False``: queue
        it for ``receive`` as usual). tk9's viewer socket takes its acks here: no ASGI
        message, no task switch and no read pause per ack."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None and not self.conn.extensions:
            scope["extensions"][FRAMES_EXTENSION] = self

    # --- pre-serialised frames ----------------------------------------------------------------

    def write_frame(self, frame: bytes) -> bool:
        """Write one serialised server frame now, if the socket is open and takes writes.

        ``False`` (nothing written) when the peer is not reading (write buffer over its
        high-water mark), or the connection is closing or closed: the caller falls back to
        :meth:`send_frame`, which waits or raises like ASGI ``send`` does.
        """
        if (
            self.write_paused
            or self.close_sent
            or self.guard_closed
            or self.disconnected
            or self.conn.state is not State.OPEN
        ):
            return False
        self.transport.write(frame)
        return True

    async def send_frame(self, frame: bytes) -> None:
        """ASGI ``send`` of a text message, for a frame already serialised."""
        if not self.writable.is_set():
            await self.writable.wait()
        if self.guard_closed:
            return  # as :meth:`send`: the app learns of the close from its receive side
        if self.disconnected or self.close_sent or self.conn.state is not State.OPEN:
            raise ClientDisconnected()
        self.transport.write(frame)

    def send_receive_event_to_app(self) -> None:
        hook = self.on_text
        if (
            hook is not None
            and self.curr_msg_data_type == "text"
            and not self.close_sent
            and self.queue.empty()  # order: nothing queued before this message
        ):
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            try:
                taken = hook(data.decode())
            except UnicodeDecodeError:
                taken = False  # uvicorn's own path closes 1007
            if taken:
                self.frames = []
                return
        super().send_receive_event_to_app()

    # --- inbound budget ---------------------------------------------------------------------

    def handle_events(self) -> None:
        events = self.conn.events_received()
        frames = [e for e in events if isinstance(e, Frame)]
        if frames and not self.budget.take(
            len(frames), sum(len(f.data) for f in frames), self.loop.time()
        ):
            self.flooded()
            return
        for event in events:
            if isinstance(event, Request):
                self.handle_connect(event)
            elif not isinstance(event, Frame):
                continue
            elif event.opcode == Opcode.CONT:
                self.handle_cont(event)
            elif event.opcode == Opcode.TEXT:
                self.handle_text(event)
            elif event.opcode == Opcode.BINARY:
                self.handle_bytes(event)
            elif event.opcode == Opcode.PING:
                self.handle_ping()
            elif event.opcode == Opcode.PONG:
                self.handle_pong(event)
            elif event.opcode == Opcode.CLOSE:
                self.handle_close(event)

    def flooded(self) -> None:
        """Over budget: close 1008, read nothing more, abort if the close frame is not taken."""
        self.guard_close(CloseCode.POLICY_VIOLATION, FLOOD_REASON)

    def guard_close(self, code: CloseCode, reason: str) -> None:
        """Close from here: the close frame, the app told (one disconnect), read no more, and
        the transport dropped now if the peer is not reading, else after ``close_timeout``."""
        self.guard_closed = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": int(code)})
        if not self.close_sent:
            self.conn.fail(int(code), reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
        self.transport.close()
        self.release()

    # --- dead peers ---------------------------------------------------------------------------

    def keepalive_timeout(self) -> None:
        """Our ping went unanswered for ``heartbeat_timeout``: the peer is not reading."""
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.disconnected or self.guard_closed:
            return
        self.guard_close(CloseCode.HEARTBEAT_TIMEOUT, DEAD_REASON)

    async def send(self, message: ASGISendEvent) -> None:
        if self.guard_closed:
            # dropped: the app learns of the close from its receive side (one disconnect
            # message), so its reader ends the connection and nothing else fails meanwhile
            return
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # a handshake answered with plain HTTP (the 429 of a reconnect storm) is complete:
            # uvicorn would log "returned without completing handshake" for each one
            self.handshake_complete = True

    # --- backpressure -----------------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        self.write_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.write_paused = False
        if not self.read_paused and not self.transport.is_closing():
            self.transport.resume_reading()

    async def receive(self) -> ASGIReceiveEvent:
        message = await self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            if not self.write_paused:
                self.transport.resume_reading()
        return message

    # --- bounded close ----------------------------------------------------------------------

    async def run_asgi(self) -> None:
        try:
            await super().run_asgi()
        finally:
            self.release()

    def release(self) -> None:
        """The app is done: abort now if the peer is not reading, else after close_timeout."""
        if self.disconnected:
            return
        if self.write_paused:
            self.transport.abort()
        elif self.abort_handle is None:
            self.abort_handle = self.loop.call_later(self.close_timeout, self.abort_if_open)

    def abort_if_open(self) -> None:
        self.abort_handle = None
        if not self.disconnected:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.abort_handle is not None:
            self.abort_handle.cancel()
            self.abort_handle = None
        super().connection_lost(exc)


def guarded_ws(settings: Settings) -> type[GuardedWebSocketProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``settings``."""
    return type("GuardedWebSocketProtocol", (GuardedWebSocketProtocol,), {"settings": settings})
