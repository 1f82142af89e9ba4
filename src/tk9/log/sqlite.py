"""The durable default backend: one SQLite file in WAL mode, owned by one process.

Threads. All writes go through one **writer thread** with its own ``sqlite3`` connection, in
submission order; reads of old cursors go through a second, read-only connection on a **reader
thread** (WAL lets it read while the writer commits). The event loop never touches SQLite.

Appends. ``seq`` is assigned inside the append transaction: ``BEGIN IMMEDIATE``, read the
stream's last ``seq`` (its newest row), insert, ``COMMIT`` — one page of ``events`` per stream
touched, no ``streams`` update (:mod:`tk9.log.sqlite_worker`). Appends that queue up while a
commit is in flight are **group-committed**: the writer takes every append waiting in its
queue (up to ``MAX_BATCH``) into one such transaction, so many concurrent producers share one
fsync. An ``append`` returns only after its transaction committed (with ``synchronous=FULL``
the WAL is fsynced: the entry survives power loss; ``NORMAL`` survives a process crash).

Memory mirror (:mod:`tk9.log.sqlite_mirror`). Every stream's head (epoch, first/last seq,
meta) is loaded at :meth:`open` and updated on the event loop after each commit, in commit
order, whether or not the awaiting coroutine is still there (a cancelled ``append`` that
committed is still mirrored). ``info``, ``list_streams`` and ``wait`` are served from it. Each
head also keeps a bounded **tail cache** (the last ``tail_cache_size`` entries, filled on
append), so ``read`` with a recent cursor — the live fan-out case — costs no query; older
cursors query the reader connection. Reads never return entries past the mirrored
``last_seq``, so ``read`` agrees with ``info``.

Other processes. Appends are safe from several processes (``seq`` is read inside the
transaction), and the mirror follows them: every ``WATCH_INTERVAL`` seconds the writer
connection reads ``PRAGMA data_version``, which changes only when *another* connection
committed; then the heads are reloaded (new streams appear, grown streams move their
``last_seq`` and wake their waiters, deleted ones go). So a ``tk9 research`` run on the same
data directory shows up in a running server's listing and streams live, within that interval.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from tk9.clock import Clock, SystemClock
from tk9.errors import Conflict, Unavailable
from tk9.events import (
    Entry,
    Event,
    EventType,
    StoredEntry,
    entries_from_texts,
    events_from_texts,
    new_stored_entry,
    stored_event_json,
)
from tk9.log.base import (
    EventLog,
    StreamInfo,
    check_before_seq,
    check_cursor,
    check_event_type,
    check_session_id,
    check_timeout,
    encode_json,
)
from tk9.log.memory import new_epoch
from tk9.log.notify import SessionNotifier
from tk9.log.sqlite_mirror import (
    Head,
    HeadRow,
    data_version,
    head_of,
    load_heads,
    merge_heads,
    tail_page,
    versioned_heads,
)
from tk9.log.sqlite_worker import LAST_SEQ, Append, Synchronous, Worker, not_found, row_event

WATCH_INTERVAL = 0.5
"""Seconds between two checks for commits by other processes."""


class SqliteEventLog(EventLog):
    """SQLite-backed event log (see the module docstring)."""

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Synchronous = "FULL",
        tail_cache_size: int = 2048,
        clock: Clock | None = None,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        if tail_cache_size < 0:
            raise ValueError("tail_cache_size must be >= 0")
        self._path = Path(path)
        self._synchronous: Synchronous = synchronous
        self._tail_size = tail_cache_size
        self._clock: Clock = clock or SystemClock()
        self._heads: dict[str, Head] = {}
        self._notifier = SessionNotifier()
        self._writer: Worker | None = None
        self._reader: Worker | None = None
        self._db_reads = 0
        self._watcher: asyncio.Task[None] | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def synchronous(self) -> Synchronous:
        return self._synchronous

    @property
    def tail_cache_size(self) -> int:
        return self._tail_size

    def stats(self) -> dict[str, int]:
        """Counters since :meth:`open`: reads that needed a query, append transactions."""
        return {
            "db_reads": self._db_reads,
            "append_transactions": self._writer.append_transactions if self._writer else 0,
        }

    # --- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self._writer is not None:
            return
        loop = asyncio.get_running_loop()
        writer = Worker(self._path, self._synchronous, readonly=False)
        writer.start(loop)
        try:
            # the writer creates the schema first; the heads and the data version are read in
            # one job, so a commit by another process right after is seen by the watcher
            version, rows = await writer.submit(versioned_heads)
        except BaseException:
            await writer.stop()
            raise
        reader = Worker(self._path, self._synchronous, readonly=True)
        reader.start(loop)
        self._writer, self._reader = writer, reader
        self._db_reads = 0
        self._heads = {row[0]: head_of(row, self._tail_size) for row in rows}
        self._notifier.reopen()
        self._watcher = asyncio.create_task(self._watch(version), name="sqlite-watch")

    async def _watch(self, seen: int) -> None:
        """Follow commits made by other processes (see the module docstring); ``seen`` is the
        data version the mirror was loaded at."""
        while self._writer is not None:
            writer = self._writer
            try:
                version = await writer.submit(data_version)
                if version != seen:
                    await writer.submit(load_heads, self._merge_heads)
            except Unavailable:  # closed meanwhile
                return
            seen = version
            await asyncio.sleep(WATCH_INTERVAL)

    def _merge_heads(self, rows: list[HeadRow]) -> None:
        """Mirror heads read on the writer thread (so in order with this process's commits)."""
        for sid in merge_heads(self._heads, rows, self._tail_size):
            self._notifier.notify(sid)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        self._notifier.close()
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        if writer is not None:
            await writer.stop()
        if reader is not None:
            await reader.stop()
        self._heads = {}

    def _workers(self) -> tuple[Worker, Worker]:
        if self._writer is None or self._reader is None:
            raise Unavailable("the SQLite event log is not open")
        return self._writer, self._reader

    def _head(self, session_id: str) -> Head:
        # hot path (every read and wait of every viewer): a known id was checked at create,
        # and the map is emptied on close, so only misses need the checks
        head = self._heads.get(session_id) if isinstance(session_id, str) else None
        if head is not None:
            return head
        check_session_id(session_id)
        self._workers()
        raise not_found(session_id)

    # --- streams -----------------------------------------------------------------------------
    async def create(self, session_id: str, meta: dict[str, Any]) -> StreamInfo:
        check_session_id(session_id)
        meta_json = encode_json(meta, "meta")
        writer, _ = self._workers()
        if session_id in self._heads:
            raise Conflict(f"session {session_id!r} already exists", session_id=session_id)
        row = (session_id, new_epoch(), self._clock.wall(), 1, 0, meta_json)
        head = head_of(row, self._tail_size)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO streams VALUES (?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise Conflict(
                    f"session {session_id!r} already exists", session_id=session_id
                ) from None

        def mirror(_: None) -> None:
            self._heads[session_id] = head

        await writer.submit(insert, mirror)
        return head.info(session_id)

    async def info(self, session_id: str) -> StreamInfo:
        return self._head(session_id).info(session_id)

    async def list_streams(self) -> list[StreamInfo]:
        self._workers()
        return [head.info(sid) for sid, head in reversed(self._heads.items())]

    async def update_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        self._head(session_id)
        patch = json.loads(encode_json(meta, "meta"))
        writer, _ = self._workers()

        def merge(conn: sqlite3.Connection) -> dict[str, Any]:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT meta FROM streams WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise not_found(session_id)
            merged: dict[str, Any] = json.loads(row[0])
            merged.update(patch)
            conn.execute(
                "UPDATE streams SET meta = ? WHERE session_id = ?",
                (encode_json(merged, "meta"), session_id),
            )
            conn.execute("COMMIT")
            return merged

        def mirror(merged: dict[str, Any]) -> None:
            if (head := self._heads.get(session_id)) is not None:
                head.meta = merged

        await writer.submit(merge, mirror)

    async def delete(self, session_id: str) -> None:
        self._head(session_id)
        writer, _ = self._workers()

        def remove(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            gone = conn.execute("DELETE FROM streams WHERE session_id = ?", (session_id,))
            if gone.rowcount == 0:
                raise not_found(session_id)
            conn.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            conn.execute("COMMIT")

        def mirror(_: None) -> None:
            self._heads.pop(session_id, None)
            self._notifier.notify(session_id)

        await writer.submit(remove, mirror)

    async def trim(self, session_id: str, before_seq: int) -> StreamInfo:
        self._head(session_id)
        check_before_seq(before_seq)
        writer, _ = self._workers()

        def cut(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                f"SELECT first_seq, {LAST_SEQ} FROM streams WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise not_found(session_id)
            first = int(max(row[0], min(before_seq, row[1] + 1)))
            conn.execute("DELETE FROM events WHERE session_id = ? AND seq < ?", (session_id, first))
            # the last seq is stored: the rows that gave it may all be gone
            conn.execute(
                "UPDATE streams SET first_seq = ?, last_seq = ? WHERE session_id = ?",
                (first, row[1], session_id),
            )
            conn.execute("COMMIT")
            return first

        def mirror(first: int) -> None:
            if (head := self._heads.get(session_id)) is not None:
                head.first_seq = first
                for _ in range(min(len(head.tail), first - head.cached_from())):
                    head.tail.popleft()

        await writer.submit(cut, mirror)
        return self._head(session_id).info(session_id)

    # --- entries -----------------------------------------------------------------------------
    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        self._head(session_id)
        job = Append(
            session_id, check_event_type(event_type), encode_json(payload), self._clock.wall()
        )
        writer, _ = self._workers()

        def mirror(event: Event) -> None:
            self._mirror_append(session_id, event)

        event: Event = await writer.submit_append(job, mirror)
        return event

    async def append_many(
        self, session_id: str, items: Sequence[tuple[EventType, dict[str, Any]]]
    ) -> list[Event]:
        """Queue every job at once: the writer commits what is queued together (group commit),
        so a batch costs one transaction and one fsync, not one each."""
        self._head(session_id)
        jobs = [
            Append(session_id, check_event_type(kind), encode_json(payload), self._clock.wall())
            for kind, payload in items
        ]
        writer, _ = self._workers()

        def mirror(event: Event) -> None:
            self._mirror_append(session_id, event)

        futures = [writer.submit_append(job, mirror) for job in jobs]
        return list(await asyncio.gather(*futures))

    def _mirror_append(self, sid: str, event: Event) -> None:
        head = self._heads.get(sid)
        if head is None:
            return
        if event.seq != head.last_seq + 1:
            head.tail.clear()  # never happens with one writer; keep the cache contiguous anyway
        head.last_seq = event.seq
        head.tail.append(event.to_json())
        self._notifier.notify(sid, (event,))

    async def read(self, session_id: str, after: int, limit: int = 1000) -> list[Event]:
        head = self._head(session_id)
        check_cursor(after, limit)
        page = tail_page(head, after, limit)
        if page is not None:
            return events_from_texts(*page)
        _, reader = self._workers()
        self._db_reads += 1
        epoch, upto = head.epoch, head.last_seq

        def query(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(_COLUMNS_PAGE, (session_id, after, upto, limit)).fetchall()
            return [row_event(seq, epoch, *rest) for seq, *rest in rows]

        return await reader.submit(query)

    async def read_entries(self, session_id: str, after: int, limit: int = 1000) -> Sequence[Entry]:
        """:meth:`read` for a replay: entries read from the database come as
        :class:`StoredEntry` holding the wire text stored by the append (``events.json``) —
        one column fetched, nothing parsed or formatted. A page holding rows from before that
        column existed is built from the other columns instead (same text)."""
        head = self._head(session_id)
        check_cursor(after, limit)
        page = tail_page(head, after, limit)
        if page is not None:
            return entries_from_texts(*page)
        _, reader = self._workers()
        self._db_reads += 1
        epoch, upto = head.epoch, head.last_seq
        where = (session_id, after, upto, limit)

        def query(conn: sqlite3.Connection) -> list[StoredEntry]:
            rows = conn.execute(
                "SELECT seq, json FROM events"
                " WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                where,
            ).fetchall()
            entry = new_stored_entry
            entries = [entry((seq, epoch, text)) for seq, text in rows]
            if None in map(_text_of, entries):
                return _format_entries(conn, epoch, where)
            return entries

        return await reader.submit(query)

    def listen(
        self, session_id: str, listener: Callable[[Sequence[Event] | None], None]
    ) -> Callable[[], None] | None:
        return self._notifier.listen(session_id, listener)

    async def wait(self, session_id: str, after: int, timeout: float) -> bool:
        if self._notifier.closed:
            return False
        self._head(session_id)
        check_cursor(after)
        check_timeout(timeout)

        def position() -> tuple[str, int]:
            stream = self._head(session_id)
            return stream.epoch, stream.last_seq

        return await self._notifier.wait_past(session_id, after, timeout, position)


_text_of = itemgetter(2)
_COLUMNS_PAGE = (
    "SELECT seq, timestamp, event_type, payload, json FROM events"
    " WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
)


def _format_entries(
    conn: sqlite3.Connection, epoch: str, where: tuple[str, int, int, int]
) -> list[StoredEntry]:
    """A page of entries with their text built from the stored columns where ``events.json`` is
    NULL (rows appended before it existed)."""
    rows = conn.execute(_COLUMNS_PAGE, where).fetchall()
    text, entry, epoch_json = stored_event_json, new_stored_entry, json.dumps(epoch)
    return [
        entry((seq, epoch, wire if wire is not None else text(seq, epoch_json, ts, kind, body)))
        for seq, ts, kind, body, wire in rows
    ]
