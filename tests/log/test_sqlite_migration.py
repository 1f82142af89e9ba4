"""The stored rows (the payload once, in ``events.json``) and data directories made before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tk9.events import Event, EventType
from tk9.log.sqlite import SqliteEventLog
from tk9.log.sqlite_worker import migrate

LOG = EventType.LOG

OLD_SCHEMA = """
CREATE TABLE streams (
    session_id TEXT PRIMARY KEY, epoch TEXT NOT NULL, created_at REAL NOT NULL,
    first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, meta TEXT NOT NULL
);
CREATE TABLE events (
    session_id TEXT NOT NULL, seq INTEGER NOT NULL, timestamp REAL NOT NULL,
    event_type TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
"""


def old_database(path: Path, count: int) -> None:
    """A data directory as an older tk9 left it: no ``json`` column."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO streams VALUES ('s', 'ep\"och', 1.5, 1, ?, '{}')", (count,))
    conn.executemany(
        "INSERT INTO events VALUES ('s', ?, ?, 'log', ?)",
        [
            (i, 1_700_000_000 + i / 3, json.dumps({"message": f"é{i}\n"}, ensure_ascii=False))
            for i in range(1, count + 1)
        ],
    )
    conn.close()


def stored_texts(path: Path) -> list[str | None]:
    return [text for _, text in stored_columns(path)]


def stored_columns(path: Path) -> list[tuple[str, str | None]]:
    """``(payload, json)`` of every row of session ``s``."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT payload, json FROM events WHERE session_id = 's' ORDER BY seq")
        return [(payload, text) for payload, text in rows]
    finally:
        conn.close()


async def test_appends_store_the_exact_wire_text(tmp_path: Path) -> None:
    path = tmp_path / "db"
    async with SqliteEventLog(path, tail_cache_size=0) as log:
        await log.create("s", {})
        payloads = [{"message": "plain"}, {"message": 'ünï\u2028"q"', "level": "warning"}]
        appended = [await log.append("s", LOG, p) for p in payloads]
        entries = await log.read_entries("s", 0)
    # the payload is stored once: inside the wire text, ``payload`` left empty
    assert stored_columns(path) == [("", e.to_json()) for e in appended]
    assert [e.to_json() for e in entries] == [e.to_json() for e in appended]
    for entry, event in zip(entries, appended, strict=True):
        assert Event.model_validate_json(entry.to_json()) == event


async def test_an_old_database_is_migrated_and_its_rows_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "db"
    old_database(path, 5)
    async with SqliteEventLog(path, tail_cache_size=0) as log:
        old = await log.read("s", 0)
        assert [e.to_json() for e in await log.read_entries("s", 0)] == [e.to_json() for e in old]
        new = [await log.append("s", LOG, {"message": f"n{i}"}) for i in range(3)]
        everything = [e.to_json() for e in old + new]
        # pages of old rows only, mixed pages, pages of new rows only: the same text
        for after, limit in ((0, 8), (3, 4), (5, 3), (6, 1), (0, 2)):
            page = await log.read_entries("s", after, limit)
            assert [e.to_json() for e in page] == everything[after : after + limit]
            assert [e.seq for e in page] == list(range(after + 1, after + 1 + len(page)))
            assert {e.epoch for e in page} == {'ep"och'}
    # old rows stay as they were (no rewrite at open); new ones carry their text
    assert stored_texts(path) == [None] * 5 + everything[5:]
    async with SqliteEventLog(path, tail_cache_size=0) as log:  # a second open: nothing to do
        assert [e.to_json() for e in await log.read_entries("s", 0)] == everything


async def test_rows_of_every_earlier_format_read_the_same(tmp_path: Path) -> None:
    """Rows without ``json`` (before issue 13), with ``json`` and ``payload`` both and
    ``streams.last_seq`` kept by every append (before issue 9's writer work), and rows of now,
    in one stream: reads, pages and the next ``seq`` agree."""
    path = tmp_path / "db"
    old_database(path, 3)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    previous = [
        Event.from_stored(seq, 'ep"och', 1_700_000_100.25 + seq, LOG, json.dumps({"m": f"p{seq}"}))
        for seq in (4, 5)
    ]
    conn.executemany(
        "INSERT INTO events VALUES ('s', ?, ?, 'log', ?, ?)",
        [(e.seq, e.timestamp, json.dumps(e.payload), e.to_json()) for e in previous],
    )
    conn.execute("UPDATE streams SET last_seq = 5")
    conn.close()
    async with SqliteEventLog(path, tail_cache_size=0) as log:
        assert (await log.info("s")).last_seq == 5
        old = await log.read("s", 0)
        assert old[3:] == previous
        new = [await log.append("s", LOG, {"message": f"n{i}"}) for i in range(2)]
        assert [e.seq for e in new] == [6, 7]
        everything = old + new
        for after, limit in ((0, 10), (2, 2), (4, 2), (5, 2)):
            assert await log.read("s", after, limit) == everything[after : after + limit]
            page = await log.read_entries("s", after, limit)
            assert [e.to_json() for e in page] == [
                e.to_json() for e in everything[after : after + limit]
            ]
    assert [payload == "" for payload, _ in stored_columns(path)] == [False] * 5 + [True] * 2


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "db"
    old_database(path, 1)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(conn)
        migrate(conn)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
        assert columns.count("json") == 1
    finally:
        conn.close()
