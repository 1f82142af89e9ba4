"""The SQLite log's in-memory mirror of its ``streams`` rows, and the tail cache in it.

Every stream's head (epoch, first/last seq, meta) is loaded from the database when the log
opens (:func:`versioned_heads`) and kept on the event loop after each commit; each head also
holds the JSON text of its newest entries, from which :func:`tail_page` serves the reads of
live viewers without a query. See :mod:`tk9.log.sqlite` for how the log keeps it in step.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tk9.log.base import StreamInfo, stream_info
from tk9.log.sqlite_worker import LAST_SEQ

HeadRow = tuple[str, str, float, int, int, str]
"""A ``streams`` row as the mirror loads it: session id, epoch, created at, first seq, last
seq (:data:`~tk9.log.sqlite_worker.LAST_SEQ`), meta (JSON text)."""


@dataclass(slots=True)
class Head:
    """The in-memory mirror of one ``streams`` row plus its tail cache."""

    epoch: str
    created_at: float
    first_seq: int
    last_seq: int
    meta: dict[str, Any]
    tail: deque[str] = field(default_factory=deque)
    """The JSON text of the newest entries, ending at ``last_seq`` (so ``tail[i]`` is entry
    ``last_seq - len(tail) + 1 + i``). Strings are not tracked by the cyclic collector at all;
    cached events (a pydantic object and its payload's dicts and lists each) were walked by
    every collection for as long as they were cached, and made each young and middle
    collection a 10–130 ms stall of every live stream (docs/benchmarks.md, "The tail cache
    and the collector")."""

    def cached_from(self) -> int:
        """The seq of the oldest cached entry (``last_seq + 1`` when none is)."""
        return self.last_seq - len(self.tail) + 1

    def info(self, session_id: str) -> StreamInfo:
        return stream_info(session_id, self)


def head_of(row: HeadRow, tail_size: int) -> Head:
    """A stream's head from its row, with an empty tail cache of ``tail_size`` entries."""
    _, epoch, created, first, last, meta = row
    return Head(epoch, created, first, last, json.loads(meta), deque(maxlen=tail_size))


def merge_heads(heads: dict[str, Head], rows: list[HeadRow], tail_size: int) -> list[str]:
    """Bring ``heads`` in line with ``rows`` read from the database after another process
    committed: new streams appear, grown ones move their ``last_seq`` (their tail cache is
    dropped: the other process's entries are not in it), deleted ones go. Returns the
    sessions whose waiters must be woken."""
    changed: list[str] = []
    known = set()
    for row in rows:
        sid, epoch, _, first, last, meta = row
        known.add(sid)
        head = heads.get(sid)
        if head is None or head.epoch != epoch:
            heads[sid] = head_of(row, tail_size)
            changed.append(sid)
            continue
        head.meta = json.loads(meta)
        head.first_seq = first
        if last > head.last_seq:
            head.last_seq = last
            head.tail.clear()
            changed.append(sid)
    for sid in [sid for sid in heads if sid not in known]:
        del heads[sid]
        changed.append(sid)
    return changed


def tail_page(head: Head, after: int, limit: int) -> tuple[int, str, list[str]] | None:
    """The page after ``after`` from memory as (first seq, epoch, texts) — none at the head,
    the tail cache's entries when it reaches back to the cursor or holds every readable entry
    (a young session: a new viewer replaying from 0 costs no query) — or ``None`` when the
    database must be read."""
    if after >= head.last_seq:
        return after + 1, head.epoch, []
    tail = head.tail
    first = head.cached_from()
    if not tail or (after + 1 < first and first > head.first_seq):
        return None
    start = max(0, after + 1 - first)
    # index, don't islice: a deque walks to an index from its nearer end, and live viewers
    # read just behind the head
    texts = [tail[i] for i in range(start, min(len(tail), start + limit))]
    return first + start, head.epoch, texts


def load_heads(conn: sqlite3.Connection) -> list[HeadRow]:
    rows = conn.execute(
        f"SELECT session_id, epoch, created_at, first_seq, {LAST_SEQ}, meta FROM streams"
        " ORDER BY rowid"
    ).fetchall()
    return [(str(a), str(b), float(c), int(d), int(e), str(f)) for a, b, c, d, e, f in rows]


def versioned_heads(conn: sqlite3.Connection) -> tuple[int, list[HeadRow]]:
    """The data version and the heads, read together (in one job of the writer)."""
    return data_version(conn), load_heads(conn)


def data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
