"""SQLite-only behaviour: the tail cache, group commit, cancellation, lifecycle, settings."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import tk9.log.sqlite as sqlite_module
from tk9.clock import FakeClock
from tk9.errors import SessionNotFound, Unavailable
from tk9.events import EventType
from tk9.log.memory import MemoryEventLog
from tk9.log.sqlite import SqliteEventLog

LOG = EventType.LOG


def msg(i: int) -> dict[str, str]:
    return {"message": f"m{i}"}


async def test_recent_cursors_are_served_from_the_tail_cache(tmp_path: Path) -> None:
    async with SqliteEventLog(tmp_path / "db", tail_cache_size=10) as log:
        assert isinstance(log, SqliteEventLog)
        await log.create("s", {})
        appended = [await log.append("s", LOG, msg(i)) for i in range(30)]
        for after in (20, 25, 29, 30, 31):
            assert await log.read("s", after) == appended[after:]
        assert await log.read("s", 22, limit=3) == appended[22:25]
        assert log.stats()["db_reads"] == 0
        # cursors older than the cache go to the database, with identical results
        assert await log.read("s", 19) == appended[19:]
        assert await log.read("s", 0, limit=5) == appended[:5]
        assert log.stats()["db_reads"] == 2


async def test_a_young_session_is_replayed_from_memory(tmp_path: Path) -> None:
    async with SqliteEventLog(tmp_path / "db", tail_cache_size=10) as log:
        assert isinstance(log, SqliteEventLog)
        await log.create("s", {})
        appended = [await log.append("s", LOG, msg(i)) for i in range(10)]
        assert await log.read("s", 0) == appended
        await log.trim("s", 4)
        assert await log.read("s", 0, limit=2) == appended[3:5]
        assert log.stats()["db_reads"] == 0
        for i in range(10, 14):  # seqs 4..14 no longer fit in 10 slots
            await log.append("s", LOG, msg(i))
        assert [e.seq for e in await log.read("s", 0)] == list(range(4, 15))
        assert log.stats()["db_reads"] == 1


async def test_tail_cache_after_reopen_fills_from_new_appends(tmp_path: Path) -> None:
    path = tmp_path / "db"
    async with SqliteEventLog(path, tail_cache_size=4) as log:
        await log.create("s", {})
        first = [await log.append("s", LOG, msg(i)) for i in range(6)]
    async with SqliteEventLog(path, tail_cache_size=4) as log:
        assert isinstance(log, SqliteEventLog)
        assert await log.read("s", 6) == []
        assert log.stats()["db_reads"] == 0
        more = [await log.append("s", LOG, msg(i)) for i in range(6, 9)]
        assert await log.read("s", 6) == more
        assert log.stats()["db_reads"] == 0
        assert await log.read("s", 0) == first + more
        assert log.stats()["db_reads"] == 1


async def test_zero_tail_cache_still_reads_correctly(tmp_path: Path) -> None:
    async with SqliteEventLog(tmp_path / "db", tail_cache_size=0) as log:
        await log.create("s", {})
        appended = [await log.append("s", LOG, msg(i)) for i in range(5)]
        assert await log.read("s", 3) == appended[3:]
        assert await log.read("s", 5) == []


async def test_concurrent_appends_are_group_committed(tmp_path: Path) -> None:
    async with SqliteEventLog(tmp_path / "db") as log:
        assert isinstance(log, SqliteEventLog)
        await log.create("s", {})
        events = await asyncio.gather(*(log.append("s", LOG, msg(i)) for i in range(200)))
        assert sorted(e.seq for e in events) == list(range(1, 201))
        assert log.stats()["append_transactions"] < 50


async def test_single_appends_of_many_sessions_share_commits(tmp_path: Path) -> None:
    """The producer model of research runs: one event at a time per session, many sessions at
    once. Their appends are committed together, each session keeps its own gapless seqs, and
    everything returned is in the file (read back after reopening)."""
    path = tmp_path / "db"
    sids = [f"s{i}" for i in range(100)]
    async with SqliteEventLog(path) as log:
        assert isinstance(log, SqliteEventLog)
        for sid in sids:
            await log.create(sid, {})
        for round_ in range(3):
            events = await asyncio.gather(*(log.append(s, LOG, msg(round_)) for s in sids))
            assert [e.seq for e in events] == [round_ + 1] * len(sids)
        assert log.stats()["append_transactions"] < 3 * len(sids) / 2
    async with SqliteEventLog(path) as again:
        for sid in sids:
            read = await again.read(sid, 0)
            assert [(e.seq, e.payload["message"]) for e in read] == [
                (1, "m0"),
                (2, "m1"),
                (3, "m2"),
            ]


async def test_two_logs_on_one_file_share_the_seqs_and_follow_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' logs on one data directory (here two logs in one process: two
    connections all the same): each append reads the stream's last seq inside its transaction,
    so the seqs stay gapless, and each log's mirror follows the other's commits."""
    monkeypatch.setattr(sqlite_module, "WATCH_INTERVAL", 0.01)
    path = tmp_path / "db"
    async with SqliteEventLog(path) as one, SqliteEventLog(path) as two:
        await one.create("s", {})
        for _ in range(1000):  # the other log's watcher reloads its heads: within 10 s
            if [s for s in await two.list_streams() if s.session_id == "s"]:
                break
            await asyncio.sleep(0.01)
        for i in range(6):
            await (one, two)[i % 2].append("s", LOG, msg(i))
            await asyncio.gather(*(log.append("s", LOG, msg(100 + i)) for log in (one, two)))
        async with asyncio.timeout(10):  # each mirror follows the other's last commit
            for log in (one, two):
                while (await log.info("s")).last_seq < 18:
                    await log.wait("s", (await log.info("s")).last_seq, 1.0)
        assert [e.seq for e in await one.read("s", 0)] == list(range(1, 19))
        assert await two.read("s", 0) == await one.read("s", 0)


async def test_cancelled_appends_never_leave_a_gap_or_a_stale_mirror(tmp_path: Path) -> None:
    path = tmp_path / "db"
    async with SqliteEventLog(path) as log:
        await log.create("s", {})
        tasks = [asyncio.create_task(log.append("s", LOG, msg(i))) for i in range(100)]
        await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        last = await log.append("s", LOG, msg(999))
        info = await log.info("s")
        assert info.last_seq == last.seq
        assert [e.seq for e in await log.read("s", 0)] == list(range(1, last.seq + 1))
    async with SqliteEventLog(path) as again:
        assert (await again.info("s")).last_seq == last.seq


async def test_synchronous_mode_is_applied(tmp_path: Path) -> None:
    for mode, level in (("FULL", 2), ("NORMAL", 1)):
        path = tmp_path / f"{mode}.db"
        async with SqliteEventLog(path, synchronous=mode) as log:  # type: ignore[arg-type]
            await log.create("s", {})
            await log.append("s", LOG, msg(0))
            writer = log._writer  # type: ignore[attr-defined]
            got = await writer.submit(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
            assert got == level
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError):
        SqliteEventLog("x.db", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SqliteEventLog("x.db", tail_cache_size=-1)


async def test_use_before_open_or_after_close_is_unavailable(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "db", clock=FakeClock())
    with pytest.raises(Unavailable):
        await log.create("s", {})
    await log.open()
    await log.open()  # idempotent
    await log.create("s", {})
    await log.close()
    await log.close()
    with pytest.raises(Unavailable):
        await log.read("s", 0)


async def test_unopenable_database_is_unavailable(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "missing-dir" / "db")
    with pytest.raises(Unavailable):
        await log.open()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_wait_across_delete_and_recreate_raises(kind: str, tmp_path: Path) -> None:
    """A cursor belongs to an epoch: a session deleted and created anew while a waiter sleeps
    is a different stream, so the waiter raises instead of waking on the new stream's entries.
    """
    log = MemoryEventLog() if kind == "memory" else SqliteEventLog(tmp_path / "db")
    async with log:
        await log.create("s", {})
        waiter = asyncio.create_task(log.wait("s", 0, 60))
        await asyncio.sleep(0)
        await log.delete("s")
        await log.create("s", {})
        await log.append("s", LOG, msg(0))
        with pytest.raises(SessionNotFound):
            await asyncio.wait_for(waiter, 5)
