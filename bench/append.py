"""Durable append latency: single-event appends from one producer per session, SQLite log.

    uv run python bench/append.py                          # 100 sessions x 10/s = 1,000/s, FULL
    uv run python bench/append.py --sessions 100 --rate 10 --duration 10 --synchronous NORMAL

Each session has its own producer coroutine appending one event at a time (``append``, never
``append_many``) on a fixed schedule, the way research runs append. Concurrent appends are
group-committed by the SQLite writer (one transaction and one fsync for whatever is queued).
Reported: appends/s achieved, append latency p50/p99/max (call -> durable), how late the
producers fell behind their schedule (p99), and appends per transaction (the group size).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tk9.events import EventType
from tk9.log.sqlite import SqliteEventLog


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tk9-append-") as tmp:
        log = SqliteEventLog(Path(tmp) / "events.db", synchronous=args.synchronous)
        await log.open()
        sids = [f"s{i}" for i in range(args.sessions)]
        for sid in sids:
            await log.create(sid, {})
        latencies: list[float] = []
        late: list[float] = []
        payload = {"level": "info", "message": "x" * args.payload}
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        end = start + args.duration
        period = 1.0 / args.rate

        async def producer(i: int, sid: str) -> None:
            due = start + i * period / args.sessions
            while due < end:
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                late.append(max(0.0, loop.time() - due))
                t0 = time.perf_counter()
                await log.append(sid, EventType.LOG, payload)
                latencies.append(time.perf_counter() - t0)
                due += period

        before = log._workers()[0].append_transactions
        t0 = time.perf_counter()
        await asyncio.gather(*(producer(i, s) for i, s in enumerate(sids)))
        wall = time.perf_counter() - t0
        txns = log._workers()[0].append_transactions - before
        await log.close()
    ms = [x * 1000 for x in latencies]
    print(
        f"| {args.sessions} x {args.rate}/s, synchronous={args.synchronous} "
        f"| {len(ms) / wall:,.0f}/s | {statistics.median(ms):.2f} | {pct(ms, 0.99):.2f} "
        f"| {max(ms):.1f} | {pct([x * 1000 for x in late], 0.99):.1f} "
        f"| {len(ms) / max(1, txns):.1f} |"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="appends/s per session")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--payload", type=int, default=200)
    ap.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    args = ap.parse_args()
    print("| load | appends/s | p50 ms | p99 ms | max ms | producer late p99 ms | per txn |")
    print("|---|---|---|---|---|---|---|")
    asyncio.run(main(args))
