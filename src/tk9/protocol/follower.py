"""The client side of the delivery protocol, as a pure state machine (no asyncio, no I/O).

A :class:`Follower` holds a viewer's cursor ``(epoch, seq)`` and decides what to do with every
frame the server sends, whatever the transport (WebSocket frames, SSE messages, long-poll
pages are all fed through the same methods). It returns *actions*; the driver
(:mod:`tk9.client`) performs them:

* :class:`Apply` — fold this event into the state. Emitted only for ``seq == cursor + 1``;
  duplicates (``seq <= cursor``) are dropped silently, which is what makes at-least-once
  delivery exactly-once application.
* :class:`Replace` — the server could not serve the cursor and sent a ``reset``: throw the
  state away and take the snapshot; the cursor becomes the snapshot's ``(epoch, seq)``.
* :class:`SendPong` — answer a server heartbeat ``ping``.
* :class:`SendAck` — cumulative ``ack {seq}``, batched: at most one per ``ack_interval``
  seconds unless ``ack_every`` events are waiting. Acks are for the server's delivery-lag
  metrics, not for redelivery (resume does that).
* :class:`Resume` — the stream cannot continue on this connection (a gap, an event of another
  epoch, or a silent server — "stale"): close it and reconnect from the cursor.

Which transport to use and when to reconnect is :mod:`tk9.protocol.ladder`'s job (the same
ladder as the browser's, tested against the same fixtures). :meth:`Follower.on_close` remains
for callers that drive one transport by hand: terminal close codes
(:func:`tk9.errors.should_reconnect`) stop, everything else waits the ladder's jittered,
exponentially growing delay capped at ``backoff_cap`` (10 s) — the random source is injected,
so tests are deterministic. That backoff is what a server that refuses, answers 5xx or is down
sees: every attempt that *fails* grows it, so thousands of viewers do not stampede.

Getting back fast when the network returns (issue 5: catch-up within 1 s p99) needs two more
rules, both about attempts that are *silent* rather than failed — a lost SYN, or a connection
whose TCP is in retransmission backoff after a black hole or heavy loss. Neither is a server
refusing, so neither touches the backoff:

* **Hedged opens** (:attr:`Follower.hedge_delay`): an open that has had no answer at all after
  ``hedge_after`` seconds (at most the heartbeat interval) gets a second, fresh attempt beside
  it, and so on up to ``max_open_attempts`` in flight; the first to open wins, the others are
  dropped. A SYN lost while the link was dead is otherwise retransmitted by TCP only 1 s, then
  3 s later — by the client, or by the reverse proxy connecting upstream — so the viewer would
  get through up to a second or more after the network healed. The older attempts keep running
  until their own open timeout, so a slow but working network still connects. A refused
  attempt fails at once and starts nothing: a down server sees one attempt per backoff step.
* **Probing a silent connection** (:meth:`Follower.probe_due`): the server sends a ping (or an
  SSE keepalive) every heartbeat interval, so a connection silent for ``interval +
  hedge_delay`` is suspect. The driver then opens a replacement *beside* it (hedged, one at a
  time) and moves to it once it opens — resuming from the cursor, so nothing is lost or
  repeated; a frame on the old connection first cancels the replacement. The watchdog
  (:attr:`Follower.stale_after`) still closes a connection silent for ``interval + timeout``.

Time is always passed in (``now``, monotonic seconds); nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tk9.errors import should_reconnect
from tk9.events import TERMINAL_RUN_STATUSES, Event, EventType, RunStatus
from tk9.protocol.cursor import Cursor
from tk9.protocol.ladder import backoff_delay
from tk9.protocol.messages import (
    ErrorFrame,
    EventFrame,
    EventsFrame,
    EventsPage,
    Hello,
    Reset,
    ServerPing,
    ServerPong,
)
from tk9.state import SessionState

STALE_FACTOR = 2.5
"""A connection with no frame for ``STALE_FACTOR × heartbeat_interval`` is presumed dead —
or sooner, after ``heartbeat_interval + heartbeat_timeout`` once ``hello`` has told us the
timeout: the same bound the server uses, so a black hole is noticed within 25 s by default."""


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Apply:
    """Fold ``event`` into the state (it is exactly the next one)."""

    event: Event


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace the whole state with ``snapshot`` (a server ``reset``)."""

    snapshot: SessionState
    reason: str


@dataclass(frozen=True, slots=True)
class SendPong:
    ts: float | None


@dataclass(frozen=True, slots=True)
class SendAck:
    seq: int


@dataclass(frozen=True, slots=True)
class Resume:
    """Drop this connection and reconnect from the cursor."""

    reason: Literal["gap", "epoch_mismatch", "stale"]


Action = Apply | Replace | SendPong | SendAck | Resume


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Reconnect after ``delay`` seconds (attempt number ``attempt``, from 1)."""

    delay: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Stop:
    """Do not reconnect: the close code is terminal or the session is finished."""

    reason: str
    close_code: int | None = None


CloseDecision = Reconnect | Stop


@dataclass(frozen=True, slots=True)
class FollowerPolicy:
    """Timings of a follower; the defaults match the server's defaults (docs/protocol.md)."""

    heartbeat_interval: float = 15.0
    """Assumed until the server's ``hello`` says otherwise."""
    ack_interval: float = 0.25
    ack_every: int = 50
    backoff_base: float = 0.25
    backoff_cap: float = 10.0
    hedge_after: float = 0.5
    """Seconds an open may stay unanswered before a fresh attempt starts beside it (capped at
    the heartbeat interval), and how late a heartbeat may be before a silent connection is
    probed with a replacement. Well above a round trip, well below TCP's 1 s SYN retransmit."""
    max_open_attempts: int = 3
    """Open attempts in flight at once for one connection (1 disables hedging)."""

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= 0 or self.ack_interval < 0 or self.ack_every < 1:
            raise ValueError("heartbeat_interval > 0, ack_interval >= 0 and ack_every >= 1")
        if not 0 < self.backoff_base <= self.backoff_cap:
            raise ValueError("need 0 < backoff_base <= backoff_cap")
        if self.hedge_after <= 0 or self.max_open_attempts < 1:
            raise ValueError("need hedge_after > 0 and max_open_attempts >= 1")


class Follower:
    """A viewer's side of one session's stream (see the module docstring).

    ``random`` returns a float in ``[0, 1)``; it jitters the reconnect delay.
    """

    def __init__(
        self,
        *,
        after: int = 0,
        epoch: str | None = None,
        policy: FollowerPolicy | None = None,
        random: Callable[[], float],
    ) -> None:
        if after < 0:
            raise ValueError("after must be >= 0")
        self.policy = policy or FollowerPolicy()
        self._random = random
        self._epoch = epoch
        self._seq = after
        self.heartbeat_interval = self.policy.heartbeat_interval
        self.heartbeat_timeout: float | None = None
        self.head = after
        """The highest seq the server said exists (hello/page ``head``) or that we applied."""
        self.status: RunStatus | None = None
        """The last overall run status seen (from an event or a snapshot)."""
        self.duplicates = 0
        self.attempt = 0
        """Consecutive failed connections; 0 after a connection got its ``hello``."""
        self.greetings = 0
        """``hello`` frames and long-poll pages seen: the driver tells from it whether a
        connection opened (:meth:`tk9.protocol.ladder.Ladder.opened`)."""
        self.last_error: ErrorFrame | None = None
        self._head_epoch = epoch
        self._last_frame_at: float | None = None
        self._acked = after
        self._last_ack_at: float | None = None

    # --- state -----------------------------------------------------------------------------

    @property
    def cursor(self) -> Cursor:
        return Cursor(seq=self._seq, epoch=self._epoch)

    @property
    def finished(self) -> bool:
        """The run reached a terminal status and everything the server announced is applied."""
        return self.status in TERMINAL_RUN_STATUSES and self._seq >= self.head

    # --- connection lifecycle ----------------------------------------------------------------

    def on_connect(self, now: float) -> None:
        """A connection (any transport) was opened; the watchdog starts counting from ``now``."""
        self._last_frame_at = now
        self._last_ack_at = now

    def on_alive(self, now: float) -> None:
        """A sign of life that is not a protocol frame (an SSE keepalive): resets the silence."""
        if self._last_frame_at is not None:
            self._last_frame_at = now

    def on_close(self, close_code: int) -> CloseDecision:
        """The connection ended with ``close_code`` (1006 when it just broke): what next?"""
        self._last_frame_at = None
        if not should_reconnect(close_code):
            return Stop("terminal close code", close_code)
        self.attempt += 1
        # "Equal jitter": never less than half the ceiling, so a flapping server is not hammered,
        # and spread over the other half so viewers do not reconnect in lockstep.
        policy = self.policy
        delay = backoff_delay(self.attempt, self._random(), policy.backoff_base, policy.backoff_cap)
        return Reconnect(delay=delay, attempt=self.attempt)

    # --- frames --------------------------------------------------------------------------------

    def on_frame(
        self,
        frame: Hello | EventFrame | EventsFrame | Reset | ServerPing | ServerPong | ErrorFrame,
        now: float,
    ) -> list[Action]:
        """Feed one WebSocket server frame."""
        self._last_frame_at = now
        match frame:
            case Hello():
                self.on_hello(frame, now)
                return []
            case EventFrame():
                return self.on_event(frame.event, now)
            case EventsFrame():
                actions: list[Action] = []
                for event in frame.events:
                    step = self.on_event(event, now)
                    actions.extend(step)
                    if any(isinstance(a, Resume) for a in step):
                        break  # a gap: stop here and resume from the cursor
                return actions
            case Reset():
                return self.on_reset(frame.snapshot, now, frame.reason)
            case ServerPing():
                return [SendPong(frame.ts)]
            case ServerPong():
                return []
            case ErrorFrame():
                self.last_error = frame
                return []

    def on_hello(self, hello: Hello, now: float) -> None:
        """The server accepted the subscription: learn its epoch, head and heartbeat."""
        self._last_frame_at = now
        self.attempt = 0
        self.greetings += 1
        self.heartbeat_interval = hello.heartbeat_interval
        self.heartbeat_timeout = hello.heartbeat_timeout
        if self._epoch is None:
            self._epoch = hello.epoch
        self._note_head(hello.epoch, hello.head)

    def on_event(self, event: Event, now: float) -> list[Action]:
        """One event from the stream, on any transport."""
        self._last_frame_at = now
        if self._epoch is None:
            self._epoch = event.epoch
        elif event.epoch != self._epoch:
            return [Resume("epoch_mismatch")]
        if event.seq <= self._seq:
            self.duplicates += 1
            return []
        if event.seq != self._seq + 1:
            return [Resume("gap")]
        self._seq = event.seq
        self._note_head(event.epoch, event.seq)
        if event.event_type is EventType.RESEARCH_STATUS:
            status = event.payload.get("status")
            if isinstance(status, str) and status in RunStatus._value2member_map_:
                self.status = RunStatus(status)
        actions: list[Action] = [Apply(event)]
        actions.extend(self._ack_if_due(now))
        return actions

    def on_reset(self, snapshot: SessionState, now: float, reason: str = "reset") -> list[Action]:
        """The server replaced our cursor: take the snapshot and continue after its seq."""
        self._last_frame_at = now
        same_stream = snapshot.epoch == self._epoch
        self._epoch = snapshot.epoch
        self._seq = snapshot.seq
        self._acked = min(self._acked, snapshot.seq) if same_stream else 0
        head_known = self._head_epoch == snapshot.epoch
        self.head = max(snapshot.seq, self.head) if head_known else snapshot.seq
        self._head_epoch = snapshot.epoch
        self.status = snapshot.status
        actions: list[Action] = [Replace(snapshot, reason)]
        actions.extend(self._ack_if_due(now))
        return actions

    def on_page(self, page: EventsPage, now: float) -> list[Action]:
        """A long-poll page: an optional reset, then events."""
        self._last_frame_at = now
        self.attempt = 0
        self.greetings += 1
        actions: list[Action] = []
        if page.reset is not None:
            actions.extend(self.on_reset(page.reset, now, "reset"))
        elif self._epoch is None:
            self._epoch = page.epoch
        for event in page.events:
            step = self.on_event(event, now)
            actions.extend(step)
            if any(isinstance(a, Resume) for a in step):
                break
        self._note_head(page.epoch, page.head)
        return actions

    # --- time ----------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """Called by the driver whenever it wakes up: due acks, and the silent-server watchdog."""
        actions: list[Action] = list(self._ack_if_due(now))
        if self._last_frame_at is not None and now - self._last_frame_at >= self.stale_after:
            actions.append(Resume("stale"))
        return actions

    @property
    def stale_after(self) -> float:
        bound = STALE_FACTOR * self.heartbeat_interval
        if self.heartbeat_timeout is not None:
            bound = min(bound, self.heartbeat_interval + self.heartbeat_timeout)
        return bound

    @property
    def hedge_delay(self) -> float:
        """Seconds before an unanswered open gets a fresh attempt beside it (module docstring)."""
        return min(self.policy.hedge_after, self.heartbeat_interval)

    @property
    def probe_after(self) -> float:
        """Silence after which a connection is suspect: a heartbeat is ``hedge_delay`` late."""
        return min(self.heartbeat_interval + self.hedge_delay, self.stale_after)

    def silent_for(self, now: float) -> float | None:
        """Seconds since the open connection's last frame (None when no connection is open)."""
        return None if self._last_frame_at is None else now - self._last_frame_at

    def probe_due(self, now: float) -> bool:
        """The open connection has been silent past :attr:`probe_after`: open a replacement."""
        return self._last_frame_at is not None and now - self._last_frame_at >= self.probe_after

    def next_deadline(self, now: float) -> float:
        """Seconds until :meth:`tick` may have work (the driver's receive timeout)."""
        deadlines: list[float] = []
        if self._last_frame_at is not None:
            deadlines.append(self._last_frame_at + self.stale_after - now)
        if self._seq > self._acked and self._last_ack_at is not None:
            deadlines.append(self._last_ack_at + self.policy.ack_interval - now)
        return max(0.0, min(deadlines)) if deadlines else self.stale_after

    def ack_now(self, now: float) -> SendAck | None:
        """An ack for everything applied, due or not (before a clean close); None if up to date."""
        if self._seq <= self._acked:
            return None
        self._acked = self._seq
        self._last_ack_at = now
        return SendAck(self._seq)

    def _note_head(self, epoch: str, head: int) -> None:
        if epoch != self._head_epoch:
            self._head_epoch = epoch
            self.head = head
        else:
            self.head = max(self.head, head)

    def _ack_if_due(self, now: float) -> list[Action]:
        pending = self._seq - self._acked
        if pending <= 0:
            return []
        interval_passed = (
            self._last_ack_at is None or now - self._last_ack_at >= self.policy.ack_interval
        )
        if pending >= self.policy.ack_every or interval_passed:
            self._acked = self._seq
            self._last_ack_at = now
            return [SendAck(self._seq)]
        return []
