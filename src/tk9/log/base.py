"""The ``EventLog`` port: one durable, append-only event stream per session.

Every backend (memory, SQLite, Redis Streams) implements this interface and passes the same
contract test suite (``tests/log/test_contract.py``).

Semantics every backend guarantees:

* ``append`` assigns ``seq`` = previous + 1 (starting at 1) inside the append transaction and
  returns only once the entry is durable for that backend (SQLite: the WAL commit).
* ``read(after=N)`` returns entries with ``seq > N`` in order, at most ``limit`` of them.
* ``wait(after=N)`` returns as soon as an entry with ``seq > N`` exists (immediately if one
  already does), or when ``timeout`` passes; it never polls the database in a loop.
* A stream is identified by ``(session_id, epoch)``. The epoch is fixed when the stream is
  created; a cursor carrying another epoch refers to a stream that no longer exists.
* ``first_seq`` is the lowest seq still readable (1 unless the stream was trimmed); cursors
  below ``first_seq - 1`` are past retention (``read`` then starts at ``first_seq``; spotting
  the gap is the caller's job).
* Argument rules (see the ``check_*`` helpers below): a negative ``after`` or a ``limit`` < 1
  is ``InvalidInput`` (never silently 0); so are a malformed session id, an unknown event
  type and a payload that is not plain JSON. Bad input changes nothing.
* ``wait`` on a session that is deleted meanwhile raises ``SessionNotFound``; after ``close``
  it returns ``False`` (waiters already sleeping are woken with ``False``).
* ``update_meta`` merges top-level keys; ``list_streams`` is newest created first.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tk9.errors import InvalidInput
from tk9.events import Entry, Event, EventType


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """Where a session's stream stands."""

    session_id: str
    epoch: str
    first_seq: int
    """Lowest seq still readable; ``last_seq + 1`` when the stream is empty."""
    last_seq: int
    """Highest seq appended; 0 when the stream is empty."""
    created_at: float
    meta: dict[str, Any] = field(default_factory=dict)


class StreamState(Protocol):
    """What a backend keeps in memory about a stream (memory and SQLite backends)."""

    epoch: str
    first_seq: int
    created_at: float
    meta: dict[str, Any]

    @property
    def last_seq(self) -> int: ...


def stream_info(session_id: str, state: StreamState) -> StreamInfo:
    """A :class:`StreamInfo` of ``state`` whose metadata the caller cannot mutate back."""
    return StreamInfo(
        session_id=session_id,
        epoch=state.epoch,
        first_seq=state.first_seq,
        last_seq=state.last_seq,
        created_at=state.created_at,
        meta=json.loads(json.dumps(state.meta)),
    )


class EventLog(ABC):
    """Port implemented by every event-log backend. All methods are coroutine-safe."""

    @abstractmethod
    async def open(self) -> None:
        """Connect / create the schema. Idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Release resources and wake every waiter."""

    @abstractmethod
    async def create(self, session_id: str, meta: dict[str, Any]) -> StreamInfo:
        """Create an empty stream with a new epoch. Raises ``Conflict`` if it exists."""

    @abstractmethod
    async def info(self, session_id: str) -> StreamInfo:
        """Raises ``SessionNotFound`` for an unknown session."""

    @abstractmethod
    async def list_streams(self) -> list[StreamInfo]:
        """All streams, newest first."""

    @abstractmethod
    async def update_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        """Merge ``meta`` into the stream's metadata (e.g. a cached status for listings)."""

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Remove the stream and its entries; waiters are woken. Unknown ids raise."""

    @abstractmethod
    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        """Append one entry (payload already validated) and return it with its seq."""

    async def append_many(
        self, session_id: str, items: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> list[Event]:
        """Append several entries in order, with consecutive seqs; returns them.

        Backends may commit them together (SQLite does: one transaction, one fsync, one
        wake-up of the viewers). This default appends one by one.
        """
        return [await self.append(session_id, kind, payload) for kind, payload in items]

    @abstractmethod
    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Event]:
        """Entries with ``seq > after``, ascending, at most ``limit``."""

    async def read_entries(self, session_id: str, after: int, limit: int = 1000) -> Sequence[Entry]:
        """What :meth:`read` returns, for a caller that only sends the entries' JSON text.

        Same entries, same rules; a backend may return :class:`~tk9.events.StoredEntry`
        objects instead of events, skipping the parse of every payload (SQLite does: a replay
        of a long history from an old cursor). This default is :meth:`read`.
        """
        return await self.read(session_id, after, limit)

    @abstractmethod
    async def wait(self, session_id: str, after: int, timeout: float) -> bool:
        """Block until an entry with ``seq > after`` exists; True if so, False on timeout."""

    def listen(
        self, session_id: str, listener: Callable[[Sequence[Event] | None], None]
    ) -> Callable[[], None] | None:
        """Have ``listener`` called, on the event loop, with the entries this process commits
        to ``session_id`` as they commit (``None`` when a change is known but not its entries:
        read them). Returns the function that stops it; ``None`` when this backend cannot
        (then :meth:`wait` is the way). One listener per session.
        """
        return None

    async def trim(self, session_id: str, before_seq: int) -> StreamInfo:
        """Drop entries with ``seq < before_seq`` (retention); raises ``first_seq``.

        ``before_seq`` above ``last_seq + 1`` is clamped (everything is dropped, ``seq`` keeps
        counting); a value at or below the current ``first_seq`` changes nothing. Backends that
        do not support retention raise ``NotImplementedError``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support trim")

    async def __aenter__(self) -> EventLog:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def append_payload(log: EventLog, session_id: str, payload: Any) -> Event:
    """Append a typed payload model (see :mod:`tk9.events`), deriving its event type."""
    from tk9.events import event_type_of

    return await log.append(session_id, event_type_of(payload), payload.model_dump(mode="json"))


# --- argument rules shared by every backend ------------------------------------------------------

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
"""Session ids are URL-safe and short: they appear in paths and in Redis key names."""


def check_session_id(session_id: str) -> None:
    """Raise ``InvalidInput`` unless ``session_id`` matches :data:`SESSION_ID_RE`."""
    if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
        raise InvalidInput("session id must be 1-128 characters of [A-Za-z0-9._~-]")


def check_cursor(after: int, limit: int = 1) -> None:
    """``after`` must be an int >= 0 (a negative cursor is an error, not 0); ``limit`` >= 1."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InvalidInput("after must be an integer >= 0", after=repr(after))
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput("limit must be an integer >= 1", limit=repr(limit))


def check_timeout(timeout: float) -> None:
    """``timeout`` must be a finite number of seconds >= 0."""
    if not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout < 0:
        raise InvalidInput("timeout must be a finite number >= 0", timeout=repr(timeout))


def check_event_type(event_type: EventType | str) -> EventType:
    """The event type as an :class:`EventType`; ``InvalidInput`` for an unknown one."""
    if type(event_type) is EventType:
        return event_type
    try:
        return EventType(event_type)
    except ValueError:
        raise InvalidInput("unknown event type", event_type=repr(event_type)) from None


def encode_json(value: dict[str, Any], what: str = "payload") -> str:
    """Compact JSON of a dict (payload or meta); ``InvalidInput`` if it is not plain JSON.

    Every backend stores this text and hands back ``json.loads`` of it, so a payload reads back
    identically whatever the backend (tuples become lists, and so on).
    """
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} is not JSON-serialisable: {exc}") from None


def check_before_seq(before_seq: int) -> None:
    """``trim``'s bound must be an int >= 1."""
    if isinstance(before_seq, bool) or not isinstance(before_seq, int) or before_seq < 1:
        raise InvalidInput("before_seq must be an integer >= 1", before_seq=repr(before_seq))
