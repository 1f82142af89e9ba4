"""The server side of one subscription, as a pure state machine.

The delivery path (``tk9.server.delivery``, the same for every transport) drives it:

1. it computes the resume decision (:func:`tk9.protocol.cursor.decide_resume`) and calls
   :meth:`ServerConnection.start` (replay) or :meth:`ServerConnection.start_with_reset`;
2. *pull*: while :meth:`read_request` says so, it reads that many entries after the cursor and
   hands them to :meth:`feed`, which returns the frames to send — duplicates dropped, and a gap
   answered explicitly with a ``resync`` :class:`Close` (``[]`` only ever means nothing new);
3. *push*: a viewer that is caught up gets shared, pre-encoded batches from its session's
   broadcaster, which asks :meth:`can_push` and reports :meth:`pushed` (no frame is built);
4. every client text frame goes through :meth:`receive`;
5. it calls :meth:`tick` at :meth:`next_deadline` for heartbeats and the slow-consumer
   watchdog (the only one: transports keep no timeout of their own);
6. after frames are written to the socket it calls :meth:`sent`.

Nothing here blocks or does I/O; time is passed in as ``now`` (monotonic seconds). A viewer
that stops reading holds at most ``outbound_limit`` events in flight: the connection simply
stops asking for more, and catches up from the log when the socket drains. The producer and
other viewers never wait for it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tk9.errors import CloseCode, ProtocolError, should_reconnect
from tk9.events import Entry
from tk9.protocol.client_frames import parse_client_frame, plain_ack_seq
from tk9.protocol.cursor import ResetReason
from tk9.protocol.messages import (
    ClientPing,
    ClientPong,
    ErrorFrame,
    EventFrame,
    EventsFrame,
    Hello,
    Reset,
    ServerPing,
    ServerPong,
)
from tk9.state import SessionState

ServerFrameOut = Hello | EventFrame | EventsFrame | Reset | ServerPing | ServerPong | ErrorFrame


_LAG_FRAMES = 64
"""Frames whose send time is remembered for the lag metric (bounds memory per connection)."""


@dataclass(frozen=True, slots=True)
class ProtocolConfig:
    heartbeat_interval: float = 15.0
    heartbeat_timeout: float = 10.0
    max_frame_bytes: int = 64 * 1024
    outbound_limit: int = 256
    send_timeout: float = 30.0
    max_batch_events: int = 100
    """Most events one ``events`` frame carries (1: always single ``event`` frames)."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code``; ``frame`` (if any) is sent first."""

    code: int
    reason: str
    frame: ErrorFrame | None = None


@dataclass(frozen=True, slots=True)
class AckObserved:
    """A cumulative ack arrived; ``lag`` is seconds from sending ``seq`` to its ack."""

    seq: int
    lag: float | None


Output = ServerFrameOut | Close | AckObserved


@dataclass(slots=True)
class _Heartbeat:
    last_ping_at: float
    last_received_at: float
    ping_outstanding_at: float | None = None


@dataclass
class ConnectionStats:
    replayed: int = 0
    delivered: int = 0
    duplicates_dropped: int = 0
    acked: int = 0
    pings_sent: int = 0


@dataclass
class ServerConnection:
    """Per-connection protocol state. Create one per accepted socket."""

    session_id: str
    epoch: str
    config: ProtocolConfig
    now: float
    cursor: int = 0
    """Seq of the last event handed out for sending."""
    head_at_start: int = 0
    started: bool = False
    closed: Close | None = None
    stats: ConnectionStats = field(default_factory=ConnectionStats)
    _in_flight: int = 0
    _oldest_unsent_at: float | None = None
    _sent_at: OrderedDict[int, float] = field(default_factory=OrderedDict)
    """Send time of each recent frame, keyed by its last seq (for the ack lag metric)."""
    _hb: _Heartbeat | None = None
    heartbeats: bool = True
    """Send pings and expect answers (WebSocket). SSE has no client frames: ``False`` keeps
    only the slow-consumer watchdog."""

    # --- start ------------------------------------------------------------------------------

    def start(self, after: int, head: int) -> list[Output]:
        """Begin replaying after ``after`` (a cursor the resume decision accepted)."""
        self._begin(after, head)
        return [self._hello(resume_from=after)]

    def start_with_reset(
        self, reason: ResetReason, snapshot: SessionState, head: int
    ) -> list[Output]:
        """Begin with a reset: the client replaces its state with ``snapshot``."""
        self._begin(snapshot.seq, head)
        hello = self._hello(resume_from=snapshot.seq)
        return [hello, Reset(reason=reason.value, snapshot=snapshot)]

    def _begin(self, cursor: int, head: int) -> None:
        if self.started:
            raise RuntimeError("connection already started")
        self.started = True
        self.cursor = cursor
        self.head_at_start = head
        self._hb = _Heartbeat(last_ping_at=self.now, last_received_at=self.now)

    def _hello(self, resume_from: int) -> Hello:
        return Hello(
            session_id=self.session_id,
            epoch=self.epoch,
            head=self.head_at_start,
            resume_from=resume_from,
            heartbeat_interval=self.config.heartbeat_interval,
            heartbeat_timeout=self.config.heartbeat_timeout,
        )

    # --- log -> client ------------------------------------------------------------------------

    def read_request(self) -> int:
        """How many entries after :attr:`cursor` the driver may read now (0: none)."""
        if self.closed is not None or not self.started:
            return 0
        return max(0, self.config.outbound_limit - self._in_flight)

    def feed(self, events: Sequence[Entry], now: float) -> list[Output]:
        """Entries read from the log after :attr:`cursor`; returns what to do, in order.

        * ``[]`` means exactly one thing: nothing new (everything was at or below the cursor,
          dropped as duplicates).
        * Otherwise the frames to send: consecutive events go out together in ``events``
          frames of at most ``max_batch_events``.
        * A gap — the first new entry is not ``cursor + 1``, or belongs to another epoch — is
          never skipped and never retried: the contiguous prefix (if any) is sent, then a
          :class:`Close` with code 1013 and error ``resync`` ends the connection. The client
          resumes from its cursor and the resume decision answers with a ``reset``
          (the entries were trimmed, or the stream was re-created).
        """
        if self.closed is not None:
            return [self.closed]
        fresh: list[Entry] = []
        gap: Entry | None = None
        for event in events:
            if event.seq <= self.cursor:
                self.stats.duplicates_dropped += 1
                continue
            if event.seq != self.cursor + 1 or event.epoch != self.epoch:
                gap = event
                break
            self.cursor = event.seq
            if event.seq <= self.head_at_start:
                self.stats.replayed += 1
            fresh.append(event)
        out = self._frames(fresh, now) if fresh else []
        if gap is not None:
            out.append(self._resync(gap))
        return out

    def _frames(self, fresh: list[Entry], now: float) -> list[Output]:
        self.stats.delivered += len(fresh)
        self._in_flight += len(fresh)
        if self._oldest_unsent_at is None:
            self._oldest_unsent_at = now
        # frames are built without re-validation: every entry came from the log already valid.
        # They carry the entries as given: events, or (a replay) entries that only have their
        # JSON text (``tk9.events.StoredEntry``), which is all a transport encodes
        step = max(1, self.config.max_batch_events)
        out: list[Output] = []
        for i in range(0, len(fresh), step):
            chunk = fresh[i : i + step]
            self._remember_sent(chunk[-1].seq, now)
            if len(chunk) == 1:
                out.append(EventFrame.model_construct(event=chunk[0]))
            else:
                out.append(EventsFrame.model_construct(events=chunk))
        return out

    def _remember_sent(self, seq: int, now: float) -> None:
        self._sent_at[seq] = now
        if len(self._sent_at) > _LAG_FRAMES:
            self._sent_at.popitem(last=False)

    def _resync(self, gap: Entry) -> Close:
        if gap.epoch != self.epoch:
            why = f"stream re-created (epoch {gap.epoch[:16]}) after seq {self.cursor}"
        else:
            why = f"log gap: seq {gap.seq} follows {self.cursor}"
        return self._close(CloseCode.TRY_AGAIN_LATER, why, "resync")

    # --- push (the broadcaster wrote a shared frame) -----------------------------------------

    def can_push(self, first_seq: int) -> bool:
        """Whether a broadcast frame starting at ``first_seq`` is exactly what comes next."""
        return self.closed is None and self.started and self.cursor == first_seq - 1

    def pushed(self, first_seq: int, last_seq: int, now: float, *, pending: bool = False) -> None:
        """The broadcaster wrote events ``first_seq..last_seq`` (one shared frame) to the
        transport: account for it like :meth:`feed` followed by :meth:`sent`. With
        ``pending`` the write has not completed yet (the socket was not writable): the events
        count as in flight until :meth:`sent`, so the slow-consumer watchdog runs.

        Call only when :meth:`can_push` said so; no frame object is built per viewer.
        """
        count = last_seq - first_seq + 1
        if pending:
            self._in_flight += count
            if self._oldest_unsent_at is None:
                self._oldest_unsent_at = now
        self.cursor = last_seq
        self.stats.delivered += count
        if last_seq <= self.head_at_start:
            self.stats.replayed += min(count, self.head_at_start - first_seq + 1)
        self._remember_sent(last_seq, now)

    def sent(self, count: int, now: float) -> None:
        """``count`` events (not frames) were written to the transport."""
        self._in_flight = max(0, self._in_flight - count)
        self._oldest_unsent_at = None if self._in_flight == 0 else now

    # --- client -> server ---------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Output]:
        """A frame from the client. Bad frames close the connection with a 44xx/1003 code."""
        if self.closed is not None:
            return []
        self._heard(now)
        try:
            frame = parse_client_frame(data, self.config.max_frame_bytes)
        except ProtocolError as exc:
            return [self._close(exc.close_code, exc.message, exc.code)]
        if isinstance(frame, int):
            return self._on_ack(frame, now)
        if isinstance(frame, ClientPing):
            return [ServerPong(ts=frame.ts)]
        if isinstance(frame, ClientPong):
            return []
        return self._on_ack(frame.seq, now)

    def receive_ack(self, data: str, now: float) -> list[Output] | None:
        """:meth:`receive` for a well-formed plain ack (the frame viewers send most), the only
        frame whose outputs need no write: ``AckObserved``, nothing, or a ``Close`` (an ack
        beyond what was sent). ``None`` for anything else, which is left untouched for
        :meth:`receive` — so a transport can take acks where they arrive, without a task."""
        if self.closed is not None or len(data) > 64:
            return None
        try:
            seq = plain_ack_seq(json.loads(data))
        except ValueError:
            return None
        if seq is None:
            return None
        self._heard(now)
        return self._on_ack(seq, now)

    def _heard(self, now: float) -> None:
        """Any frame from the client is a sign of life (the heartbeat's)."""
        if self._hb is not None:
            self._hb.last_received_at = now
            self._hb.ping_outstanding_at = None

    def _on_ack(self, seq: int, now: float) -> list[Output]:
        if seq > self.cursor:
            return [
                self._close(
                    CloseCode.BAD_CURSOR,
                    f"ack for seq {seq} beyond the last delivered seq {self.cursor}",
                    "bad_ack",
                )
            ]
        if seq <= self.stats.acked:
            return []
        self.stats.acked = seq
        # frames are contiguous: the first one whose last seq reaches the ack holds it
        while self._sent_at and next(iter(self._sent_at)) < seq:
            self._sent_at.popitem(last=False)
        sent_at = next(iter(self._sent_at.values()), None)
        if self._sent_at and next(iter(self._sent_at)) == seq:
            self._sent_at.popitem(last=False)
        return [AckObserved(seq=seq, lag=None if sent_at is None else now - sent_at)]

    # --- time -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must next be called (monotonic seconds), or ``None``."""
        if self._hb is None or self.closed is not None:
            return None
        if not self.heartbeats:
            if self._oldest_unsent_at is None:
                return None
            return self._oldest_unsent_at + self.config.send_timeout
        deadline = self._hb.last_ping_at + self.config.heartbeat_interval
        if self._hb.ping_outstanding_at is not None:
            deadline = min(deadline, self._hb.ping_outstanding_at + self.config.heartbeat_timeout)
        if self._oldest_unsent_at is not None:
            deadline = min(deadline, self._oldest_unsent_at + self.config.send_timeout)
        return deadline

    def tick(self, now: float) -> list[Output]:
        """Heartbeat bookkeeping: send a ping every interval; close a connection found dead."""
        hb = self._hb
        if hb is None or self.closed is not None:
            return []
        if (
            self._oldest_unsent_at is not None
            and now >= self._oldest_unsent_at + self.config.send_timeout
        ):
            return [
                self._close(
                    CloseCode.SLOW_CONSUMER,
                    f"viewer accepted nothing for {self.config.send_timeout:g}s",
                    "slow_consumer",
                )
            ]
        if not self.heartbeats:
            return []
        if (
            hb.ping_outstanding_at is not None
            and now >= hb.ping_outstanding_at + self.config.heartbeat_timeout
        ):
            return [
                self._close(
                    CloseCode.HEARTBEAT_TIMEOUT,
                    f"no frame within {self.config.heartbeat_timeout:g}s of a ping",
                    "heartbeat_timeout",
                )
            ]
        # same arithmetic as next_deadline, so a tick at the deadline always acts
        if now >= hb.last_ping_at + self.config.heartbeat_interval:
            hb.last_ping_at = now
            if hb.ping_outstanding_at is None:
                hb.ping_outstanding_at = now
            self.stats.pings_sent += 1
            return [ServerPing(ts=round(now, 6))]
        return []

    # --- closing ----------------------------------------------------------------------------

    def _close(self, code: CloseCode, message: str, error_code: str) -> Close:
        frame = ErrorFrame(
            code=error_code,
            message=message,
            retryable=should_reconnect(code),
            close_code=int(code),
        )
        self.closed = Close(code=int(code), reason=message[:120], frame=frame)
        return self.closed

    def shutdown(self) -> Close:
        """Graceful server shutdown: close with 1012 so the client resumes elsewhere/later."""
        return self._close(CloseCode.SERVICE_RESTART, "server restarting", "service_restart")
