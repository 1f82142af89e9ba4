"""An ``EventLog`` decorator used by the server: counts appends and keeps listing metadata.

Producers (the research runs) append through it, so ``GET /api/sessions`` can list status and
progress (and how many warnings a ``completed_with_warnings`` run has) from stream metadata
without folding every session. The metadata is a cache written after the append; the snapshot
(the fold of the log) is the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tk9.events import Event, EventType
from tk9.log.base import EventLog
from tk9.log.delegate import DelegatingLog
from tk9.server.metrics import Metrics


class TrackingLog(DelegatingLog):
    def __init__(self, inner: EventLog, metrics: Metrics) -> None:
        super().__init__(inner)
        self.metrics = metrics

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
        self.metrics.appended.labels(event_type=event.event_type.value).inc()
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
