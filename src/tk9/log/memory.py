"""The reference backend: plain dicts and lists, nothing survives the process.

It defines the behaviour the other backends are checked against (the contract suite and a
property test compare SQLite with it). Rules shared by every backend, decided here:

* A negative ``after`` (or a ``limit`` < 1) is ``InvalidInput``, not silently 0.
* ``read`` below ``first_seq`` returns what is left (from ``first_seq``); deciding that a cursor
  is past retention is the caller's job (compare with :attr:`StreamInfo.first_seq`).
* ``update_meta`` merges top-level keys (``dict.update``), it does not deep-merge.
* ``list_streams`` is newest *created* first.
* Payloads and meta are stored as their JSON text and read back with ``json.loads`` so every
  backend returns identical values. Callers must not mutate returned payloads. Entries are
  kept as their JSON text, which the cyclic collector does not track: a long session's
  events are not walked by every collection (see :mod:`tk9.log.sqlite`'s tail cache).
* ``wait`` on a deleted session raises ``SessionNotFound``; after ``close`` it returns ``False``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tk9.clock import Clock, SystemClock
from tk9.errors import Conflict, SessionNotFound
from tk9.events import Entry, Event, EventType, entries_from_texts, events_from_texts
from tk9.log.base import (
    EventLog,
    StreamInfo,
    check_before_seq,
    check_cursor,
    check_event_type,
    check_session_id,
    check_timeout,
    encode_json,
    stream_info,
)
from tk9.log.notify import SessionNotifier


def new_epoch() -> str:
    """A fresh random stream epoch (16 hex digits)."""
    return uuid.uuid4().hex[:16]


@dataclass(slots=True)
class _Stream:
    epoch: str
    created_at: float
    meta: dict[str, Any]
    first_seq: int = 1
    events: list[str] = field(default_factory=list)
    """The JSON text of entries ``first_seq .. last_seq``: ``events[i]`` is entry
    ``first_seq + i``."""

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.events) - 1

    def page(self, after: int, limit: int) -> tuple[int, str, list[str]]:
        """The entries after ``after`` (at most ``limit``) as (first seq, epoch, texts)."""
        check_cursor(after, limit)
        start = max(0, after + 1 - self.first_seq)
        return self.first_seq + start, self.epoch, self.events[start : start + limit]

    def info(self, session_id: str) -> StreamInfo:
        return stream_info(session_id, self)


class MemoryEventLog(EventLog):
    """Dict-and-list event log; timestamps come from the injected clock."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._streams: dict[str, _Stream] = {}
        self._notifier = SessionNotifier()

    async def open(self) -> None:
        self._notifier.reopen()

    async def close(self) -> None:
        self._notifier.close()

    def _get(self, session_id: str) -> _Stream:
        check_session_id(session_id)
        stream = self._streams.get(session_id)
        if stream is None:
            raise SessionNotFound(f"no session {session_id!r}", session_id=session_id)
        return stream

    async def create(self, session_id: str, meta: dict[str, Any]) -> StreamInfo:
        check_session_id(session_id)
        meta_copy = json.loads(encode_json(meta, "meta"))
        if session_id in self._streams:
            raise Conflict(f"session {session_id!r} already exists", session_id=session_id)
        stream = _Stream(epoch=new_epoch(), created_at=self._clock.wall(), meta=meta_copy)
        self._streams[session_id] = stream
        return stream.info(session_id)

    async def info(self, session_id: str) -> StreamInfo:
        return self._get(session_id).info(session_id)

    async def list_streams(self) -> list[StreamInfo]:
        return [s.info(sid) for sid, s in reversed(self._streams.items())]

    async def update_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        stream = self._get(session_id)
        stream.meta.update(json.loads(encode_json(meta, "meta")))

    async def delete(self, session_id: str) -> None:
        self._get(session_id)
        del self._streams[session_id]
        self._notifier.notify(session_id)

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        stream = self._get(session_id)
        kind = check_event_type(event_type)
        body = json.loads(encode_json(payload))
        event = Event.model_construct(
            seq=stream.last_seq + 1,
            epoch=stream.epoch,
            timestamp=self._clock.wall(),
            event_type=kind,
            payload=body,
        )
        stream.events.append(event.to_json())
        self._notifier.notify(session_id, (event,))
        return event

    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Event]:
        stream = self._get(session_id)
        return events_from_texts(*stream.page(after, limit))

    async def read_entries(self, session_id: str, after: int, limit: int = 1000) -> Sequence[Entry]:
        stream = self._get(session_id)
        return entries_from_texts(*stream.page(after, limit))

    def listen(
        self, session_id: str, listener: Callable[[Sequence[Event] | None], None]
    ) -> Callable[[], None] | None:
        return self._notifier.listen(session_id, listener)

    async def wait(self, session_id: str, after: int, timeout: float) -> bool:
        if self._notifier.closed:
            return False
        self._get(session_id)
        check_cursor(after)
        check_timeout(timeout)

        def position() -> tuple[str, int]:
            stream = self._get(session_id)
            return stream.epoch, stream.last_seq

        return await self._notifier.wait_past(session_id, after, timeout, position)

    async def trim(self, session_id: str, before_seq: int) -> StreamInfo:
        stream = self._get(session_id)
        check_before_seq(before_seq)
        target = min(before_seq, stream.last_seq + 1)
        if target > stream.first_seq:
            del stream.events[: target - stream.first_seq]
            stream.first_seq = target
        return stream.info(session_id)
