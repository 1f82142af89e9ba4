"""The ``SnapshotStore`` port: a session's projection stored beside its event log.

A stored snapshot is a :class:`~tk9.state.SessionState` — the fold (:mod:`tk9.projection`) of a
stream's events up to its ``seq`` — kept so that serving a session costs the stored state plus
the few events appended after it, not a fold of the whole log. It is a cache of the log, never
a second truth: a reader checks the stored ``(epoch, seq)`` against the log and folds the tail
(or starts over when the epoch differs or the seq is past the head). Losing it costs time only.

Backends, one per event-log backend, all passing ``tests/log/test_snapshot_contract.py``:

* memory — a dict (the reference);
* SQLite — table ``snapshots`` in the log's own database file, written through a connection of
  its own on its own thread (the log's writer and reader threads are left alone);
* Redis — one string key ``{prefix}:s:{id}:snapshot`` beside the session's stream keys (same
  hash tag), set by a script that compares seqs.

Semantics every backend guarantees:

* ``save`` keeps the newest: a state with the same epoch and a seq at or below the stored one
  changes nothing (two writers racing never move a snapshot backwards); a state of another
  epoch replaces the stored one (the stream was re-created).
* ``load`` returns what ``save`` stored, equal field for field, or ``None``.
* ``delete`` of an unknown session is a no-op (the log decides what exists).
* A malformed session id is ``InvalidInput``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import redis.asyncio as aioredis

from tk9.log.base import check_session_id
from tk9.log.redis import _errors as redis_errors
from tk9.settings import Settings
from tk9.state import SessionState

T = TypeVar("T")


class SnapshotStore(ABC):
    """Port implemented by every snapshot backend. All methods are coroutine-safe."""

    @abstractmethod
    async def open(self) -> None:
        """Connect / create the schema. Idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Release resources."""

    @abstractmethod
    async def load(self, session_id: str) -> SessionState | None:
        """The stored snapshot of ``session_id``, or ``None``."""

    @abstractmethod
    async def save(self, state: SessionState) -> None:
        """Store ``state`` for ``state.session_id`` unless a newer one of its epoch is stored."""

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Forget the session's snapshot (no-op when there is none)."""


def _newer(state: SessionState, stored_epoch: str, stored_seq: int) -> bool:
    return state.epoch != stored_epoch or state.seq > stored_seq


class MemorySnapshotStore(SnapshotStore):
    """Reference backend: the JSON text of each snapshot in a dict (so reads are copies)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, int, str]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def load(self, session_id: str) -> SessionState | None:
        check_session_id(session_id)
        row = self._rows.get(session_id)
        return None if row is None else SessionState.model_validate_json(row[2])

    async def save(self, state: SessionState) -> None:
        check_session_id(state.session_id)
        row = self._rows.get(state.session_id)
        if row is None or _newer(state, row[0], row[1]):
            self._rows[state.session_id] = (state.epoch, state.seq, state.model_dump_json())

    async def delete(self, session_id: str) -> None:
        check_session_id(session_id)
        self._rows.pop(session_id, None)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    session_id TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL
)
"""

_UPSERT = """
INSERT INTO snapshots (session_id, epoch, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (session_id) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq,
    state = excluded.state
WHERE excluded.epoch != snapshots.epoch OR excluded.seq > snapshots.seq
"""


class SqliteSnapshotStore(SnapshotStore):
    """Table ``snapshots`` in the log's database file, on one connection and thread of its own.

    ``synchronous=NORMAL``: a snapshot lost to a power cut is refolded from the log, so it does
    not need the log's fsync per commit. The log's writer has a busy timeout, so a snapshot
    write (one row, every few hundred appends) can delay an append but never fail it.
    """

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tk9-snapshots")
        self._conn = await self._call(self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        return conn

    async def close(self) -> None:
        pool, conn = self._pool, self._conn
        self._pool = self._conn = None
        if pool is not None:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(pool, conn.close)
            pool.shutdown(wait=True)

    async def _call(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            raise RuntimeError("snapshot store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("snapshot store is not open")
        return self._conn

    async def load(self, session_id: str) -> SessionState | None:
        check_session_id(session_id)

        def read() -> str | None:
            row = (
                self._db()
                .execute("SELECT state FROM snapshots WHERE session_id = ?", (session_id,))
                .fetchone()
            )
            return None if row is None else str(row[0])

        text = await self._call(read)
        return None if text is None else SessionState.model_validate_json(text)

    async def save(self, state: SessionState) -> None:
        check_session_id(state.session_id)
        row = (state.session_id, state.epoch, state.seq, state.model_dump_json())
        await self._call(lambda: self._db().execute(_UPSERT, row))

    async def delete(self, session_id: str) -> None:
        check_session_id(session_id)
        sql = "DELETE FROM snapshots WHERE session_id = ?"
        await self._call(lambda: self._db().execute(sql, (session_id,)))


_SAVE_SCRIPT = """
local old = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if old[1] == ARGV[1] and tonumber(old[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', ARGV[2], 'state', ARGV[3])
return 1
"""


class RedisSnapshotStore(SnapshotStore):
    """A hash ``{prefix}:s:{id}:snapshot`` (``epoch``, ``seq``, ``state``) per session."""

    def __init__(self, url: str, *, prefix: str = "tk9") -> None:
        self._url = url
        self._prefix = prefix
        self._r: aioredis.Redis | None = None

    async def open(self) -> None:
        if self._r is None:
            r = aioredis.Redis.from_url(self._url, decode_responses=True)
            self._save = r.register_script(_SAVE_SCRIPT)
            self._r = r

    async def close(self) -> None:
        r, self._r = self._r, None
        if r is not None:
            await r.aclose()

    def _client(self) -> aioredis.Redis:
        if self._r is None:
            raise RuntimeError("snapshot store is not open")
        return self._r

    def _key(self, session_id: str) -> str:
        check_session_id(session_id)
        return f"{self._prefix}:s:{{{session_id}}}:snapshot"

    async def load(self, session_id: str) -> SessionState | None:
        key, client = self._key(session_id), self._client()
        async with redis_errors():
            text = await client.hget(key, "state")  # type: ignore[misc]
        return None if text is None else SessionState.model_validate_json(text)

    async def save(self, state: SessionState) -> None:
        key, client = self._key(state.session_id), self._client()
        args: list[str | int] = [state.epoch, state.seq, state.model_dump_json()]
        async with redis_errors():
            await self._save(keys=[key], args=args, client=client)

    async def delete(self, session_id: str) -> None:
        key, client = self._key(session_id), self._client()
        async with redis_errors():
            await client.delete(key)


def make_snapshot_store(settings: Settings) -> SnapshotStore:
    """The store that goes with ``settings.log_backend``, unopened."""
    if settings.log_backend == "memory":
        return MemorySnapshotStore()
    if settings.log_backend == "redis":
        return RedisSnapshotStore(settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteSnapshotStore(settings.db_path)
