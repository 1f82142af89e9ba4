"""Snapshots: the projection of a session's log, kept as the log grows and stored beside it.

:class:`SnapshotCache` serves ``GET /api/sessions/{id}`` and every ``reset``. It starts from the
newest state it has — the one in its memory, else the one in the
:class:`~tk9.log.snapshot_store.SnapshotStore`, else the empty projection — and folds only the
events after that state's seq, with the one fold of :mod:`tk9.projection`. The cost of a
snapshot is therefore the few events after the stored one, whatever the session's length.

:class:`SnapshotKeeper` is the log decorator that keeps the stored snapshot near the head: after
every ``save_every`` events appended to a session, the append folds them into the in-memory
state and stores it. The stored snapshot lags the log by fewer than ``save_every`` events, so a
cold read (a restart, another process sharing a Redis log, an evicted cache entry) folds at most
that many.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from tk9.events import Event, EventType
from tk9.log.base import EventLog, StreamInfo
from tk9.log.delegate import DelegatingLog
from tk9.log.snapshot_store import MemorySnapshotStore, SnapshotStore
from tk9.projection import fold, initial_state
from tk9.server.logging import get_logger
from tk9.state import SessionState

SAVE_EVERY = 256
"""Events between two stored snapshots: bounds the fold of a cold read (a few ms at most)."""


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
    """Each session's snapshot: in memory (bounded LRU), in the store, folded forward from there.

    ``save_every``: a state at least that many events ahead of the stored one is stored
    (by :meth:`get`, and so by :class:`SnapshotKeeper` through :meth:`observe`).
    """

    def __init__(
        self,
        log: EventLog,
        store: SnapshotStore | None = None,
        *,
        capacity: int = 256,
        batch: int = 1000,
        save_every: int = SAVE_EVERY,
    ) -> None:
        self._log = log
        self.store: SnapshotStore = store or MemorySnapshotStore()
        self._capacity = capacity
        self._batch = batch
        self._save_every = save_every
        self._states: OrderedDict[str, SessionState] = OrderedDict()
        self._saved: dict[str, int] = {}
        """Seq of the snapshot last stored (or loaded), per session in memory."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._encoded: dict[str, tuple[SessionState, bytes]] = {}
        """The JSON of the state in ``_states``, made on the first request that needs it."""

    async def get(self, session_id: str) -> SessionState:
        """The snapshot up to the log's current head. Raises ``SessionNotFound``."""
        info = await self._log.info(session_id)
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            state = self._states.get(session_id)
            if state is None or state.epoch != info.epoch or state.seq > info.last_seq:
                state = await self._start(info)
            while state.seq < info.last_seq:
                events = await self._log.read(session_id, state.seq, self._batch)
                if not events:
                    break
                state = fold(events, state)
            if state.seq - self._saved_at(session_id) >= self._save_every:
                await self.store.save(state)
                self._saved[session_id] = state.seq
            self._keep(session_id, state)
            return state

    async def get_json(self, session_id: str) -> bytes:
        """:meth:`get` as JSON bytes, encoded once per state (a snapshot is ~150 KB of logs)."""
        state = await self.get(session_id)
        cached = self._encoded.get(session_id)
        if cached is not None and cached[0] is state:
            return cached[1]
        body = state.model_dump_json().encode()
        if self._states.get(session_id) is state:
            self._encoded[session_id] = (state, body)
        return body

    async def _start(self, info: StreamInfo) -> SessionState:
        """The stored snapshot when it belongs to this stream, else the empty projection."""
        stored = await self.store.load(info.session_id)
        if stored is not None and stored.epoch == info.epoch and stored.seq <= info.last_seq:
            self._saved[info.session_id] = stored.seq
            return stored
        self._saved[info.session_id] = self._phase(info.session_id)
        return state_from_info(info)

    def _keep(self, session_id: str, state: SessionState) -> None:
        self._states[session_id] = state
        self._states.move_to_end(session_id)
        while len(self._states) > self._capacity:
            old, _ = self._states.popitem(last=False)
            self._locks.pop(old, None)
            self._encoded.pop(old, None)
            # ``_saved`` stays: one int per session, so an evicted session that keeps
            # growing is not reloaded from the store on every append

    def due(self, session_id: str, last_seq: int) -> bool:
        """True when the stored snapshot is ``save_every`` or more events behind ``last_seq``."""
        return last_seq - self._saved_at(session_id) >= self._save_every

    def _saved_at(self, session_id: str) -> int:
        """Seq the stored snapshot is counted from (its phase before the first one: no hash
        per append once a session has a count)."""
        saved = self._saved.get(session_id)
        return self._phase(session_id) if saved is None else saved

    def _phase(self, session_id: str) -> int:
        """Where a session's first stored snapshot is counted from: a ``k`` in
        ``[0, save_every / 2)`` fixed by the session id, so it is stored after
        ``save_every + k`` appends. Sessions started together (a burst
        of runs, a benchmark) then store theirs at different appends, not all in one tick
        — each is a fold and a write of ~100 KB on the loop. A cold read folds fewer than
        1.5 × ``save_every`` events."""
        return zlib.crc32(session_id.encode()) % max(1, self._save_every // 2)

    def forget(self, session_id: str) -> None:
        """Drop the in-memory state (the stored one is dropped by :meth:`delete`)."""
        self._states.pop(session_id, None)
        self._locks.pop(session_id, None)
        self._saved.pop(session_id, None)
        self._encoded.pop(session_id, None)

    async def delete(self, session_id: str) -> None:
        """Forget the session here and in the store."""
        self.forget(session_id)
        await self.store.delete(session_id)


class SnapshotKeeper(DelegatingLog):
    """Log decorator: appends keep the session's stored snapshot fewer than ``save_every`` behind.

    The append has committed before the snapshot is touched, and a snapshot that cannot be
    stored (the store is down) is logged and skipped, never an append error: the snapshot is a
    cache of the log.
    """

    def __init__(self, inner: EventLog, snapshots: SnapshotCache) -> None:
        super().__init__(inner)
        self.snapshots = snapshots

    async def open(self) -> None:
        await self.inner.open()
        await self.snapshots.store.open()

    async def close(self) -> None:
        await self.snapshots.store.close()
        await self.inner.close()

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        event = await self.inner.append(session_id, event_type, payload)
        await self._observe(session_id, event.seq)
        return event

    async def append_many(
        self, session_id: str, items: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> list[Event]:
        events = await self.inner.append_many(session_id, items)
        if events:
            await self._observe(session_id, events[-1].seq)
        return events

    async def delete(self, session_id: str) -> None:
        await self.inner.delete(session_id)
        await self.snapshots.delete(session_id)

    async def _observe(self, session_id: str, last_seq: int) -> None:
        if not self.snapshots.due(session_id, last_seq):
            return
        try:
            await self.snapshots.get(session_id)
        except Exception as exc:  # the append committed; a missed snapshot only costs time
            get_logger(session_id=session_id).warning("snapshot_not_stored", error=repr(exc))
