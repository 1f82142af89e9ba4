"""A test EventLog decorator that runs a hook on every append (before it is stored)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tk9.events import Event, EventType
from tk9.log.base import EventLog
from tk9.log.delegate import DelegatingLog

Hook = Callable[[str, EventType, dict[str, Any]], Awaitable[None]]


class HookedLog(DelegatingLog):
    def __init__(self, inner: EventLog, hook: Hook) -> None:
        super().__init__(inner)
        self.hook = hook

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        await self.hook(session_id, event_type, payload)
        return await self.inner.append(session_id, event_type, payload)

    async def append_many(
        self, session_id: str, items: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> list[Event]:
        return [await self.append(session_id, kind, payload) for kind, payload in items]
