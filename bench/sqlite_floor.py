"""What a durable SQLite append costs on this machine before tk9 adds anything: the floor.

    uv run python bench/sqlite_floor.py                    # 1,000 transactions/s, then back to back
    uv run python bench/sqlite_floor.py --rate 2000 --rows 1 2 4

One thread, no event loop, no tk9 code: the ``events`` table of tk9's SQLite log (same
columns, ``WITHOUT ROWID`` key ``(session_id, seq)``, ~330-byte wire text), 100 sessions taking
turns, ``BEGIN IMMEDIATE`` / ``INSERT`` x rows / ``COMMIT`` per transaction, WAL mode, for
``synchronous=FULL`` (the WAL fsynced at every commit: what tk9 ships) and ``NORMAL``; and, for
scale, the same number of 400-byte ``write`` + ``fdatasync`` calls on a plain file. Each case
runs paced at ``--rate`` transactions/s (the way a server sees appends: spread out, the CPU idle
in between) and back to back. Reported: CPU µs per transaction (user + system of this process,
``time.process_time``) and per row, and the share of a core at the paced rate.

Why it exists: issue 9 asks for the whole server's CPU at 1,000 single-event appends/s (10k
deliveries/s) to stay within 1.5 x a FastAPI send loop that stores nothing. This bench measures
how much of that budget one fsynced transaction per event takes by itself (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SESSIONS = 100
WIRE_TEXT = "x" * 330


def sqlite_case(path: Path, synchronous: str, rows: int) -> Callable[[], None]:
    """One transaction of ``rows`` single-event appends, as tk9's writer commits them."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS events (session_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " timestamp REAL NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL, json TEXT,"
        " PRIMARY KEY (session_id, seq)) WITHOUT ROWID"
    )
    sids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(SESSIONS)]
    seqs = [0] * SESSIONS
    turn = [0]

    def commit() -> None:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(rows):
            i = turn[0] % SESSIONS
            turn[0] += 1
            seqs[i] += 1
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?, 'log', '', ?)",
                (sids[i], seqs[i], time.time(), WIRE_TEXT),
            )
        conn.execute("COMMIT")

    for _ in range(1000):  # past the first leaf splits and the WAL's first growth
        commit()
    return commit


def file_case(path: Path) -> Callable[[], None]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    data = b"x" * 400

    def commit() -> None:
        os.write(fd, data)
        os.fdatasync(fd)

    return commit


def measure(commit: Callable[[], None], count: int, rate: float) -> float:
    """CPU seconds per call of ``commit``, ``count`` calls, paced at ``rate``/s (0: no pause)."""
    cpu0 = time.process_time()
    due = time.perf_counter()
    for _ in range(count):
        commit()
        if rate > 0:
            due += 1.0 / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
    return (time.process_time() - cpu0) / count


def main(args: argparse.Namespace) -> None:
    print("| case | rows/txn | paced at | CPU µs/txn | CPU µs/row | share of a core |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="tk9-floor-", dir=args.dir) as tmp:
        cases: list[tuple[str, int, Callable[[], None]]] = [
            ("write + fdatasync, plain file", 1, file_case(Path(tmp) / "plain"))
        ]
        for sync in ("FULL", "NORMAL"):
            for rows in args.rows:
                db = Path(tmp) / f"{sync}-{rows}.db"
                cases.append((f"SQLite WAL, synchronous={sync}", rows, sqlite_case(db, sync, rows)))
        for label, rows, commit in cases:
            for rate in (args.rate, 0.0):
                per_txn = measure(commit, args.count, rate)
                paced = f"{rate:,.0f} txn/s" if rate else "back to back"
                share = f"{per_txn * rate * 100:.0f} %" if rate else "–"
                print(
                    f"| {label} | {rows} | {paced} | {per_txn * 1e6:.0f} "
                    f"| {per_txn * 1e6 / rows:.0f} | {share} |"
                )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=1000.0, help="paced transactions/s")
    ap.add_argument("--count", type=int, default=5000, help="transactions per case and pace")
    ap.add_argument("--rows", type=int, nargs="+", default=[1], help="appends per transaction")
    ap.add_argument("--dir", default=None, help="where the temporary files go")
    main(ap.parse_args())
