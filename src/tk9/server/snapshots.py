"""Snapshots: the projection of a session's log, folded incrementally and cached."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from tk9.log.base import EventLog, StreamInfo
from tk9.projection import fold, initial_state
from tk9.state import SessionState


def state_from_info(info: StreamInfo) -> SessionState:
    """An empty projection for a stream, with the subject/language its metadata records."""
    return initial_state(
        info.session_id,
        info.epoch,
        subject=str(info.meta.get("subject", "")),
        language=str(info.meta.get("language", "en")),
        created_at=float(info.meta.get("created_at", info.created_at)),
    )


class SnapshotCache:
    """Folds each session's log once and then only the new entries (bounded LRU)."""

    def __init__(self, log: EventLog, capacity: int = 256, batch: int = 1000) -> None:
        self._log = log
        self._capacity = capacity
        self._batch = batch
        self._states: OrderedDict[str, SessionState] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, session_id: str) -> SessionState:
        """The snapshot up to the log's current head. Raises ``SessionNotFound``."""
        info = await self._log.info(session_id)
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            state = self._states.get(session_id)
            if state is None or state.epoch != info.epoch:
                state = state_from_info(info)
            while state.seq < info.last_seq:
                events = await self._log.read(session_id, state.seq, self._batch)
                if not events:
                    break
                state = fold(events, state)
            self._states[session_id] = state
            self._states.move_to_end(session_id)
            while len(self._states) > self._capacity:
                old, _ = self._states.popitem(last=False)
                self._locks.pop(old, None)
            return state

    def forget(self, session_id: str) -> None:
        self._states.pop(session_id, None)
        self._locks.pop(session_id, None)
