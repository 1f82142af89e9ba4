"""The SQLite event log's threads: one ``sqlite3`` connection each, jobs run in order.

The writer group-commits appends: every append waiting in its queue (up to ``MAX_BATCH``) goes
into one ``BEGIN IMMEDIATE`` transaction, where each gets ``seq = last + 1`` (:data:`HEAD`).
Results are handed back to the event loop with ``call_soon_threadsafe``; there a job's
``on_commit`` runs first — in commit order and even if the awaiting coroutine was cancelled —
and then its future is resolved. See :mod:`tk9.log.sqlite` for the whole design.

A commit writes as few pages as it can, since each one is a WAL frame written and fsynced
(issue 9): an append inserts its ``events`` row only — the payload once, inside the wire text
``json`` (``payload`` is ``''``) — and leaves ``streams.last_seq`` alone; a stream's last
``seq`` is the larger of that column and its newest row (:data:`LAST_SEQ`), and ``trim``, which
may delete every row, stores it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from tk9.errors import SessionNotFound, Unavailable
from tk9.events import Event, EventType

T = TypeVar("T")
Synchronous = Literal["FULL", "NORMAL"]
MAX_BATCH = 256
"""Most appends group-committed in one transaction."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    session_id TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    created_at REAL NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    meta TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    json TEXT,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
"""
"""``events.json`` is the entry's wire text (:meth:`Event.to_json`), written by the append so a
replay fetches one column and formats nothing; ``events.payload`` is then ``''`` (the payload
is inside ``json``: stored once). Rows appended by an older tk9 have ``json`` NULL (the column
did not exist: :func:`migrate` adds it) or ``json`` and ``payload`` both; readers take the
payload from ``payload`` when it is not empty, else from ``json`` (:func:`row_event`).
``streams.last_seq`` is a floor, not the head: see :data:`LAST_SEQ`."""

LAST_SEQ = (
    "max(last_seq, coalesce("
    "(SELECT max(seq) FROM events WHERE events.session_id = streams.session_id), 0))"
)
"""A stream's last ``seq`` as SQL over a ``streams`` row: its newest event (one B-tree descent
of the ``(session_id, seq)`` key), or ``streams.last_seq`` if larger — set by ``trim``, which may
delete every row, and by an older tk9 that updated it on every append."""

HEAD = f"SELECT epoch, {LAST_SEQ} FROM streams WHERE session_id = ?"
"""A stream's epoch and last ``seq``, read by the append transaction."""


@dataclass(slots=True)
class Append:
    session_id: str
    event_type: EventType
    payload: str
    timestamp: float


@dataclass(slots=True)
class _Job:
    """Work for a :class:`_Worker`: an append (batched) or a function of the connection."""

    future: asyncio.Future[Any]
    on_commit: Callable[[Any], None] | None
    append: Append | None = None
    fn: Callable[[sqlite3.Connection], Any] | None = None


class Worker:
    """One ``sqlite3`` connection on its own thread, running jobs in submission order."""

    def __init__(self, path: Path, synchronous: Synchronous, *, readonly: bool) -> None:
        self._path = path
        self._synchronous = synchronous
        self._readonly = readonly
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.append_transactions = 0
        """Group commits done (each holds one or more appends)."""

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stopped = loop.create_future()
        name = "tk9-sqlite-" + ("reader" if self._readonly else "writer")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Finish the queued jobs, close the connection and end the thread."""
        if self._thread is None or self._stopped is None:
            return
        self._queue.put(None)
        await self._stopped
        self._thread = None

    def submit(
        self,
        fn: Callable[[sqlite3.Connection], T],
        on_commit: Callable[[T], None] | None = None,
    ) -> asyncio.Future[T]:
        return self._put(_Job(self._new_future(), on_commit, fn=fn))

    def submit_append(self, append: Append, on_commit: Callable[[Event], None]) -> Any:
        return self._put(_Job(self._new_future(), on_commit, append=append))

    def _new_future(self) -> asyncio.Future[Any]:
        if self._loop is None or self._thread is None:
            raise Unavailable("the SQLite event log is not open")
        return self._loop.create_future()

    def _put(self, job: _Job) -> asyncio.Future[Any]:
        self._queue.put(job)
        return job.future

    # --- on the worker thread --------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        if self._readonly:
            conn.execute("PRAGMA query_only=1")
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            migrate(conn)
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        return conn

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            self._fail_all(Unavailable(f"cannot open the event log database: {exc}"))
            return
        try:
            pending: deque[_Job | None] = deque()
            while True:
                job = pending.popleft() if pending else self._queue.get()
                if job is None:
                    break
                if job.append is None:
                    self._run_fn(conn, job)
                    continue
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None or nxt.append is None:
                        pending.append(nxt)
                        break
                    batch.append(nxt)
                self._run_appends(conn, batch)
        finally:
            conn.close()
            self._post(_resolve_stopped, self._stopped)

    def _fail_all(self, exc: Exception) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self._post(_resolve_stopped, self._stopped)
                return
            self._post(_deliver, job, None, exc)

    def _run_fn(self, conn: sqlite3.Connection, job: _Job) -> None:
        assert job.fn is not None
        try:
            result = job.fn(conn)
        except Exception as exc:
            _rollback(conn)
            self._post(_deliver, job, None, storage_error(exc))
        else:
            self._post(_deliver, job, result, None)

    def _run_appends(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[Event | None, Exception | None]] = []
        heads: dict[str, tuple[str, int]] = {}
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                a = job.append
                assert a is not None
                head = heads.get(a.session_id)
                if head is None:
                    row = conn.execute(HEAD, (a.session_id,)).fetchone()
                    if row is None:
                        outcomes.append((None, not_found(a.session_id)))
                        continue
                    head = (row[0], row[1])
                seq = head[1] + 1
                event = make_event(seq, head[0], a.timestamp, a.event_type, a.payload)
                conn.execute(
                    "INSERT INTO events (session_id, seq, timestamp, event_type, payload, json)"
                    " VALUES (?, ?, ?, ?, '', ?)",
                    (a.session_id, seq, a.timestamp, a.event_type.value, event.to_json()),
                )
                heads[a.session_id] = (head[0], seq)
                outcomes.append((event, None))
            conn.execute("COMMIT")
            self.append_transactions += 1
        except Exception as exc:
            _rollback(conn)
            error = storage_error(exc)
            outcomes = [(None, error)] * len(batch)
        # one hand-off to the loop per transaction, not per append: each hand-off is a wake-up
        # of the loop and a GIL round trip between this thread and the loop's
        self._post(_deliver_all, list(zip(batch, outcomes, strict=True)))

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits
            self._loop.call_soon_threadsafe(callback, *args)


def _deliver(job: _Job, result: Any, error: Exception | None) -> None:
    """On the loop: mirror a commit (even if the caller went away), then resolve the caller."""
    if error is None and job.on_commit is not None:
        job.on_commit(result)
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)


def _deliver_all(items: list[tuple[_Job, tuple[Any, Exception | None]]]) -> None:
    """On the loop: :func:`_deliver` every append of one transaction, in commit order."""
    for job, (result, error) in items:
        _deliver(job, result, error)


def _resolve_stopped(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an older tk9 up to :data:`SCHEMA`: add ``events.json``.

    Old rows keep ``json`` NULL (no rewrite of a long log at open); readers format them.
    Another process may migrate at the same moment: a duplicate column is that, not an error.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "json" in columns:
        return
    try:
        conn.execute("ALTER TABLE events ADD COLUMN json TEXT")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def storage_error(exc: Exception) -> Exception:
    if isinstance(exc, sqlite3.Error):
        error = Unavailable(f"event log storage failed: {exc}")
        error.__cause__ = exc  # the SQLite error says why (a full disk: tk9.server.storage)
        return error
    return exc


def not_found(session_id: str) -> SessionNotFound:
    return SessionNotFound(f"no session {session_id!r}", session_id=session_id)


def make_event(seq: int, epoch: str, ts: float, kind: EventType | str, payload: str) -> Event:
    return Event.from_stored(seq, epoch, ts, EventType(kind), payload)


_PAYLOAD_KEY = '"payload":'


def row_event(seq: int, epoch: str, ts: float, kind: str, payload: str, text: str | None) -> Event:
    """The event of an ``events`` row: its payload from ``payload``, or, when that is ``''``,
    from the wire text — its last member, so the text after the first ``"payload":`` (which
    cannot occur inside a JSON string: a quote there is escaped) up to the closing brace."""
    if not payload and text is not None:
        payload = text[text.index(_PAYLOAD_KEY) + len(_PAYLOAD_KEY) : -1]
    return make_event(seq, epoch, ts, kind, payload)
