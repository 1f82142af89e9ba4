"""An ``EventLog`` decorator used by the server: counts appends and keeps listing metadata.

Producers (the research runs) append through it, so ``GET /api/sessions`` can list status and
progress from stream metadata without folding every session. The metadata is a cache; the
snapshot (the fold of the log) is the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tk9.events import Event, EventType
from tk9.log.base import EventLog, StreamInfo
from tk9.server.metrics import Metrics


class TrackingLog(EventLog):
    def __init__(self, inner: EventLog, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def create(self, session_id: str, meta: dict[str, Any]) -> StreamInfo:
        return await self.inner.create(session_id, meta)

    async def info(self, session_id: str) -> StreamInfo:
        return await self.inner.info(session_id)

    async def list_streams(self) -> list[StreamInfo]:
        return await self.inner.list_streams()

    async def update_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        await self.inner.update_meta(session_id, meta)

    async def delete(self, session_id: str) -> None:
        await self.inner.delete(session_id)

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        event = await self.inner.append(session_id, event_type, payload)
        await self._track(session_id, event)
        return event

    async def _track(self, session_id: str, event: Event) -> None:
        self.metrics.appended.labels(event_type=event.event_type.value).inc()
        if event.event_type is EventType.RESEARCH_STATUS:
            payload = event.payload
            await self.inner.update_meta(
                session_id,
                {"status": payload.get("status"), "progress": payload.get("progress", 0)},
            )

    async def append_many(
        self, session_id: str, items: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> list[Event]:
        events = await self.inner.append_many(session_id, items)
        for event in events:
            await self._track(session_id, event)
        return events

    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Event]:
        return await self.inner.read(session_id, after, limit)

    async def wait(self, session_id: str, after: int, timeout: float) -> bool:
        return await self.inner.wait(session_id, after, timeout)
