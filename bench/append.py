"""Durable append latency and CPU: single-event appends from one producer per session, SQLite.

    uv run python bench/append.py                          # 100 sessions x 10/s = 1,000/s, FULL
    uv run python bench/append.py --sessions 100 --rate 10 --duration 10 --synchronous NORMAL
    uv run python bench/append.py --rate 0                 # closed loop: each producer appends
                                                           # again as soon as its append returned
    uv run python bench/append.py --meta 120               # sessions with a listing like a run's

Each session has its own producer coroutine appending one event at a time (``append``, never
``append_many``), the way research runs append: on a fixed schedule (``--rate`` per session),
or back to back (``--rate 0``, the saturation case). Concurrent appends are group-committed by
the SQLite writer. Reported: appends/s achieved, append latency p50/p99/max (call -> durable),
how late the producers fell behind their schedule (p99), appends per transaction (the group
size), and CPU per append: the whole process (event loop + writer thread + the kernel's share
of both, ``time.process_time``) divided by the appends, so ``µs/append × appends/s`` is the
share of a core the durable append costs (the ``--busy`` loop work excluded), and the writer
thread's part of it, and the bytes the process wrote per append (WAL and checkpoints).
``--busy 0.5`` keeps the event loop half busy with Python work, as
fan-out to viewers does in a server: the writer thread then competes with it for the GIL.
``--meta N`` gives each session the listing metadata a research run has (subject of N
characters, language, status, progress, owner) instead of ``{}``: bigger ``streams`` rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from tk9.events import EventType
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.sqlite import SqliteEventLog


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tk9-append-", dir=args.dir) as tmp:
        log: EventLog = (
            MemoryEventLog()
            if args.synchronous == "memory"
            else SqliteEventLog(Path(tmp) / "events.db", synchronous=args.synchronous)
        )
        await log.open()
        sids = [f"s{i}" for i in range(args.sessions)]
        meta = (
            {"subject": "s" * args.meta, "language": "en", "created_at": time.time()}
            | {"status": "running", "progress": 0, "owner": "node-1"}
            if args.meta
            else {}
        )
        for sid in sids:
            await log.create(sid, meta)
        latencies: list[float] = []
        late: list[float] = []
        payload = {"level": "info", "message": "x" * args.payload}
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        end = start + args.duration
        period = 1.0 / args.rate if args.rate > 0 else 0.0

        async def producer(i: int, sid: str) -> None:
            due = start + i * period / args.sessions
            if not period:
                await asyncio.sleep(start - loop.time())
            while (due if period else loop.time()) < end:
                if period:
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    late.append(max(0.0, loop.time() - due))
                t0 = time.perf_counter()
                await log.append(sid, EventType.LOG, payload)
                latencies.append(time.perf_counter() - t0)
                due += period

        burnt = [0.0]

        async def busy() -> None:
            """Keep the loop ``--busy`` busy with Python work in 0.2 ms slices, as fan-out
            would: the writer thread then competes with it for the GIL."""
            if args.busy <= 0:
                return
            slice_s, gap = 0.0002, 0.0002 * (1 - args.busy) / args.busy
            while loop.time() < end:
                c0 = time.thread_time()
                t = time.perf_counter() + slice_s
                while time.perf_counter() < t:
                    pass
                burnt[0] += time.thread_time() - c0
                await asyncio.sleep(gap)

        before = _transactions(log)
        threads0, written0 = thread_cpu(), bytes_written()
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(busy(), *(producer(i, s) for i, s in enumerate(sids)))
        wall = time.perf_counter() - t0
        threads = {k: v - threads0.get(k, 0.0) for k, v in thread_cpu().items()}
        cpu = time.process_time() - cpu0 - burnt[0]
        written = bytes_written() - written0
        txns = _transactions(log) - before
        writer = log._workers()[0]._thread if isinstance(log, SqliteEventLog) else None
        writer_cpu = threads.get(writer.native_id or 0, 0.0) if writer else 0.0
        await log.close()
    ms = [x * 1000 for x in latencies]
    load = f"{args.sessions} x {args.rate:g}/s" if args.rate > 0 else f"{args.sessions} x closed"
    print(
        f"| {load}, {args.synchronous} "
        f"| {len(ms) / wall:,.0f}/s | {statistics.median(ms):.2f} | {pct(ms, 0.99):.2f} "
        f"| {max(ms):.1f} | {pct([x * 1000 for x in late], 0.99):.1f} "
        f"| {f'{len(ms) / txns:.1f}' if txns else '–'} | {cpu / max(1, len(ms)) * 1e6:.0f} "
        f"| {writer_cpu / max(1, len(ms)) * 1e6:.0f} | {cpu / wall * 100:.0f} % "
        f"| {written / max(1, len(ms)) / 1000:.1f} |"
    )


def _transactions(log: EventLog) -> int:
    return log.stats()["append_transactions"] if isinstance(log, SqliteEventLog) else 0


def bytes_written() -> int:
    """Bytes this process passed to ``write`` calls so far (``wchar``, Linux): the log's WAL
    and checkpoint writes, whether or not the page cache has flushed them yet."""
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("wchar"))


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by native id (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument(
        "--rate", type=float, default=10.0, help="appends/s per session; 0: back to back"
    )
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--payload", type=int, default=200)
    ap.add_argument(
        "--meta", type=int, default=0, help="subject length of a run-like session meta; 0: {}"
    )
    ap.add_argument(
        "--synchronous",
        choices=["FULL", "NORMAL", "memory"],
        default="FULL",
        help="SQLite's synchronous setting, or the memory log (the baseline: no storage)",
    )
    ap.add_argument(
        "--busy", type=float, default=0.0, help="fraction of the loop kept busy (0-0.9)"
    )
    ap.add_argument("--dir", default=None, help="where the temporary database goes")
    args = ap.parse_args()
    print(
        "| load | appends/s | p50 ms | p99 ms | max ms | producer late p99 ms"
        " | per txn | CPU µs/append | of which writer thread | CPU | kB written/append |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    asyncio.run(main(args))
