"""Wire messages of the delivery protocol: typed, tagged unions (field ``type``).

The TypeScript types in ``frontend/src/generated/wire.ts`` are generated from these models
(``make types``); a check in ``make test`` fails when they drift.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tk9.events import Event
from tk9.state import SessionState


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server ------------------------------------------------------------------------


class ClientPing(_Frame):
    type: Literal["ping"] = "ping"
    ts: float | None = None


class ClientPong(_Frame):
    type: Literal["pong"] = "pong"
    ts: float | None = None


class Ack(_Frame):
    """Cumulative: the client has applied every event up to and including ``seq``."""

    type: Literal["ack"] = "ack"
    seq: Annotated[int, Field(ge=0)]


ClientFrame = Annotated[ClientPing | ClientPong | Ack, Field(discriminator="type")]
CLIENT_FRAME: TypeAdapter[ClientPing | ClientPong | Ack] = TypeAdapter(ClientFrame)


# --- server -> client ------------------------------------------------------------------------


class Hello(_Frame):
    """First frame on a connection: where the stream stands and the heartbeat timings."""

    type: Literal["hello"] = "hello"
    session_id: str
    epoch: str
    head: int
    """The last seq in the log when the connection was accepted."""
    resume_from: int
    """The cursor the server is replaying after (0 for a fresh subscription)."""
    heartbeat_interval: float
    heartbeat_timeout: float


class EventFrame(_Frame):
    type: Literal["event"] = "event"
    event: Event


class EventsFrame(_Frame):
    """Several consecutive events in one frame, in seq order.

    Sent when more than one event is ready for a viewer at once (a replay, a burst): one frame
    and one write instead of many. Apply them one by one, exactly as if they were ``event``
    frames.
    """

    type: Literal["events"] = "events"
    events: list[Event]


def frame_events(frame: object) -> list[Event]:
    """The events a server frame carries (none for control frames)."""
    if isinstance(frame, EventFrame):
        return [frame.event]
    if isinstance(frame, EventsFrame):
        return list(frame.events)
    return []


class Reset(_Frame):
    """The cursor cannot be served: replace all state with ``snapshot``; events follow it."""

    type: Literal["reset"] = "reset"
    reason: Literal["unknown_epoch", "future_seq", "retention", "forged"]
    snapshot: SessionState


class ServerPing(_Frame):
    type: Literal["ping"] = "ping"
    ts: float


class ServerPong(_Frame):
    type: Literal["pong"] = "pong"
    ts: float | None = None


class ErrorFrame(_Frame):
    """Sent just before the server closes a connection because of an error."""

    type: Literal["error"] = "error"
    code: str
    message: str
    retryable: bool
    close_code: int


ServerFrame = Annotated[
    Hello | EventFrame | EventsFrame | Reset | ServerPing | ServerPong | ErrorFrame,
    Field(discriminator="type"),
]
SERVER_FRAME: TypeAdapter[
    Hello | EventFrame | EventsFrame | Reset | ServerPing | ServerPong | ErrorFrame
] = TypeAdapter(ServerFrame)


# --- HTTP bodies -----------------------------------------------------------------------------


class EventsPage(BaseModel):
    """Body of ``GET /api/sessions/{id}/events`` (long-poll)."""

    session_id: str
    epoch: str
    head: int
    events: list[Event]
    reset: SessionState | None = None
    """Present when the cursor could not be served: apply it first, then ``events``."""
