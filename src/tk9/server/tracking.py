"""An ``EventLog`` decorator used by the server: counts appends and keeps listing metadata.

Producers (the research runs) append through it, so ``GET /api/sessions`` can list status and
progress (and how many warnings a ``completed_with_warnings`` run has) from stream metadata
without folding every session. The metadata is a cache written after the append; the snapshot
(the fold of the log) is the truth. Every change of a listing row (created, new status, deleted)
bumps :attr:`TrackingLog.changes`, which the live sessions feed waits on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tk9.events import Event, EventType
from tk9.log.base import EventLog, StreamInfo
from tk9.log.delegate import DelegatingLog
from tk9.server.changes import Changes
from tk9.server.metrics import Metrics


class TrackingLog(DelegatingLog):
    def __init__(self, inner: EventLog, metrics: Metrics) -> None:
        super().__init__(inner)
        self.metrics = metrics
        self.changes = Changes()
        self._appended: dict[EventType, Any] = {}
        """``metrics.appended`` children by event type (``labels`` costs µs per call)."""

    async def create(self, session_id: str, meta: dict[str, Any]) -> StreamInfo:
        info = await self.inner.create(session_id, meta)
        self.changes.bump()
        return info

    async def update_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        await self.inner.update_meta(session_id, meta)
        self.changes.bump()

    async def delete(self, session_id: str) -> None:
        await self.inner.delete(session_id)
        self.changes.bump()

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        event = await self.inner.append(session_id, event_type, payload)
        await self._track(session_id, event)
        return event

    async def append_many(
        self, session_id: str, items: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> list[Event]:
        events = await self.inner.append_many(session_id, items)
        for event in events:
            await self._track(session_id, event)
        return events

    async def _track(self, session_id: str, event: Event) -> None:
        counter = self._appended.get(event.event_type)
        if counter is None:
            counter = self._appended[event.event_type] = self.metrics.appended.labels(
                event_type=event.event_type.value
            )
        counter.inc()
        if event.event_type is EventType.RESEARCH_STATUS:
            payload = event.payload
            await self.inner.update_meta(
                session_id,
                {
                    "status": payload.get("status"),
                    "progress": payload.get("progress", 0),
                    "warning_count": len(payload.get("warnings") or []),
                },
            )
            self.changes.bump()
