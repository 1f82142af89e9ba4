"""Long-session benchmark: snapshot time against session length, and a late join of 100k events.

    uv run python bench/snapshot.py                       # everything (a few minutes)
    uv run python bench/snapshot.py --sizes 1000,10000 --backends memory --no-server

Part 1, in process, per backend (memory, SQLite, Redis — a ``redis-server`` of its own): a
session of N events (``log`` events of ~300 bytes, appended in batches of 100 through the
server's :class:`~tk9.server.snapshots.SnapshotKeeper`, so the stored snapshot is kept as in
production), then

* **cold snapshot** — a fresh :class:`~tk9.server.snapshots.SnapshotCache` over the same (open)
  log and store (what a restarted server, another process on the same Redis or an evicted cache
  entry pays): load the stored snapshot, fold the events after it, encode the JSON answer;
* **served snapshot** — one event appended, then the server's own cache answers (fold the new
  event, encode the JSON answer) — what ``GET /api/sessions/{id}`` costs a live session.

``--repeats`` of each, p50/p99 of the wall time, and of the process's CPU time for the cold
read (what it costs, whatever else the machine runs). Before measuring, the heap so far is
frozen (``gc.freeze()``), as ``tk9 serve`` freezes its start-up heap: otherwise a full cyclic
collection of everything the bench imported and built (30–60 ms) lands in some samples.
Redis sessions stop at 100k events (one append per round trip).

Part 2, against a real ``tk9 serve`` (SQLite, test hooks on) holding a ``--join``-event session:
``GET /api/sessions/{id}`` over HTTP (also the first one after a restart), a fresh WebSocket
and a fresh SSE viewer from ``after=0`` until the last event is parsed (wall time, and the
server process's CPU time per join, from ``/proc``: on a shared machine the wall time is mostly
waiting for a core; SSE twice: read with ``httptools``, a C HTTP parser like a browser's, and
with httpx, whose pure-Python parsing costs the bench more CPU than the stream costs the
server), and Chromium
(Playwright, ``/usr/bin/chromium``) from ``page.goto`` until the dashboard has rendered the final
seq (``[data-testid=cursor][data-seq=head]``, the stream position under the collapsed
"Details"). Needs ``frontend/dist`` (``npm run build``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tk9.clock import SystemClock
from tk9.events import EventType
from tk9.log.base import EventLog
from tk9.log.memory import MemoryEventLog
from tk9.log.redis import RedisEventLog
from tk9.log.snapshot_store import (
    MemorySnapshotStore,
    RedisSnapshotStore,
    SnapshotStore,
    SqliteSnapshotStore,
)
from tk9.log.sqlite import SqliteEventLog
from tk9.server.snapshots import SnapshotCache, SnapshotKeeper

ROOT = Path(__file__).resolve().parents[1]
PADDING = "x" * 200
BATCH = 100
"""Events per append: not a multiple of the snapshot interval, so cold reads have a tail."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: Sequence[float]) -> str:
    return f"{pct(values, 0.5) * 1000:.1f} / {pct(values, 0.99) * 1000:.1f}"


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far (Linux ``/proc``).

    On a shared machine the wall time of a join is mostly waiting for a core; the server's
    CPU time per join is what the join costs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def joins(
    server: Server, repeats: int, join: Callable[[], Awaitable[float]]
) -> tuple[list[float], list[float]]:
    """``repeats`` joins: their wall times and the server's CPU time for each."""
    assert server.proc is not None
    walls, cpus = [], []
    for _ in range(repeats):
        before = proc_cpu(server.proc.pid)
        walls.append(await join())
        cpus.append(proc_cpu(server.proc.pid) - before)
    return walls, cpus


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def item(n: int) -> tuple[EventType, dict[str, Any]]:
    return EventType.LOG, {"level": "info", "message": f"bench {n} {PADDING}", "agent": None}


# --- part 1: in process --------------------------------------------------------------------------


def backend(kind: str, tmp: Path, redis_url: str) -> tuple[EventLog, SnapshotStore]:
    """A fresh log of ``kind`` and its snapshot store on the same storage."""
    if kind == "memory":
        return MemoryEventLog(clock=SystemClock()), MemorySnapshotStore()
    if kind == "sqlite":
        path = tmp / f"log-{time.monotonic_ns()}.sqlite3"
        return SqliteEventLog(path, synchronous="NORMAL"), SqliteSnapshotStore(path)
    prefix = f"b{time.monotonic_ns()}"
    return RedisEventLog(redis_url, prefix=prefix), RedisSnapshotStore(redis_url, prefix=prefix)


async def fill(log: EventLog, sid: str, n: int, kind: str) -> None:
    for start in range(0, n, BATCH):
        items = [item(i) for i in range(start, min(n, start + BATCH))]
        if kind == "redis":  # no batched append: pipeline the round trips instead
            for i in range(0, len(items), 50):
                await asyncio.gather(*(log.append(sid, k, p) for k, p in items[i : i + 50]))
        else:
            await log.append_many(sid, items)


async def measure_backend(kind: str, n: int, repeats: int, tmp: Path, redis_url: str) -> str:
    inner, store = backend(kind, tmp, redis_url)
    cache = SnapshotCache(inner, store)
    log = SnapshotKeeper(inner, cache)
    await log.open()
    try:
        await log.create("long", {"subject": "Long session", "language": "en"})
        t0 = time.perf_counter()
        await fill(log, "long", n, kind)
        filled = time.perf_counter() - t0
        stored = await store.load("long")
        lag = n - (stored.seq if stored else 0)
        gc.collect()
        gc.freeze()  # as ``tk9 serve`` does after start-up: see the module docstring
        cold, cold_cpu, served = [], [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            state = await SnapshotCache(inner, store).get("long")
            state.model_dump_json()
            cold.append(time.perf_counter() - t)
            cold_cpu.append(time.process_time() - c)
        for i in range(repeats):
            await log.append("long", *item(n + i))
            t = time.perf_counter()
            state = await cache.get("long")
            state.model_dump_json()
            served.append(time.perf_counter() - t)
        assert state.seq == n + repeats and len(state.logs) == 500
        return (
            f"| {kind} | {n:,} | {ms(cold)} | {ms(cold_cpu)} | {ms(served)} | {lag} "
            f"| {filled:.1f} s |"
        )
    finally:
        await log.close()


async def part1(args: argparse.Namespace, tmp: Path) -> list[str]:
    lines = [
        "| backend | events | cold snapshot p50 / p99 ms | cold, CPU time p50 / p99 ms "
        "| served snapshot p50 / p99 ms | stored lag (events) | fill time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    redis = None
    redis_url = ""
    if "redis" in args.backends:
        sys.path.insert(0, str(ROOT))
        from tests.log.redis_server import RedisServer

        (tmp / "redis").mkdir()
        redis = RedisServer(tmp / "redis")
        redis_url = redis.url
    try:
        for kind in args.backends:
            for n in args.sizes:
                if kind == "redis" and n > 100_000:
                    continue
                line = await measure_backend(kind, n, args.repeats, tmp, redis_url)
                print(line, file=sys.stderr, flush=True)
                lines.append(line)
    finally:
        if redis is not None:
            redis.stop()
    return lines


# --- part 2: a real server ------------------------------------------------------------------------


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "TK9_TEST_HOOKS": "1",
            "TK9_DEMO_PRODUCER": "1",
            "TK9_DEMO_INTERVAL": "0",
            "TK9_DEMO_EVENTS": "0",
            "TK9_LOG_LEVEL": "warning",
            "TK9_SQLITE_SYNCHRONOUS": "NORMAL",
        }
        cmd = [sys.executable, "-m", "tk9.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError("tk9 serve exited during start-up")
                try:
                    if (await http.get(f"{self.base}/api/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("tk9 serve did not start")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await self.proc.wait()


def last_seq(frame: dict[str, Any]) -> int:
    """The seq of the last event a WebSocket or SSE frame carries (0 for none)."""
    if "events" in frame:
        return int(frame["events"][-1]["seq"]) if frame["events"] else 0
    if isinstance(frame.get("event"), dict):
        return int(frame["event"]["seq"])
    return int(frame.get("seq", 0)) if "event_type" in frame else 0


async def ws_join(server: Server, sid: str, head: int) -> float:
    url = f"ws://127.0.0.1:{server.port}/ws/sessions/{sid}?after=0"
    t0 = time.perf_counter()
    async with connect(url, ping_interval=None, compression=None, max_size=None) as ws:
        async for raw in ws:
            if last_seq(json.loads(raw)) >= head:
                return time.perf_counter() - t0
    raise RuntimeError("WebSocket closed before the head")


async def sse_join(http: httpx.AsyncClient, server: Server, sid: str, head: int) -> float:
    """Like :func:`ws_join`: every ``data:`` line is parsed as JSON, as a client would.

    The lines are split from raw chunks: httpx's ``aiter_lines`` alone costs ~35 % more than the
    whole stream takes to arrive, and would be measured instead of the server.
    """
    t0 = time.perf_counter()
    url = f"{server.base}/api/sessions/{sid}/stream"
    rest = b""
    async with http.stream("GET", url, params={"after": "0"}) as response:
        async for chunk in response.aiter_raw():
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                if line.startswith(b"data:") and last_seq(json.loads(line[5:])) >= head:
                    return time.perf_counter() - t0
    raise RuntimeError("SSE stream ended before the head")


async def sse_join_fast(server: Server, sid: str, head: int) -> float:
    """:func:`sse_join` with the HTTP response parsed by ``httptools`` (llhttp, C — the parser
    uvicorn uses; a browser's is C++ too) instead of httpx's pure-Python ``h11``: the same
    ``data:`` lines, each parsed as JSON. httpx costs the bench ~3× the client CPU of the
    ``websockets`` client for the same history, and on a busy machine that CPU is wall time.
    """
    import httptools

    body: list[bytes] = []
    done = False

    class Sink:
        def on_body(self, data: bytes) -> None:
            body.append(data)

        def on_message_complete(self) -> None:
            nonlocal done
            done = True

    parser = httptools.HttpResponseParser(Sink())
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        request = f"GET /api/sessions/{sid}/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        writer.write(f"{request}Accept: text/event-stream\r\n\r\n".encode())
        rest = b""
        while not done and (chunk := await reader.read(1 << 18)):
            parser.feed_data(chunk)
            if parser.get_status_code() != 200:
                raise RuntimeError(f"SSE answered {parser.get_status_code()}")
            *lines, rest = (rest + b"".join(body)).split(b"\n")
            body.clear()
            for line in lines:
                if line.startswith(b"data:") and last_seq(json.loads(line[5:])) >= head:
                    return time.perf_counter() - t0
    finally:
        writer.close()
    raise RuntimeError("SSE stream ended before the head")


async def browser_times(server: Server, sid: str, head: int, repeats: int) -> list[float]:
    from playwright.async_api import async_playwright

    times = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):
                context = await browser.new_context()
                page = await context.new_page()
                t0 = time.perf_counter()
                await page.goto(f"{server.base}/sessions/{sid}", wait_until="commit")
                # the stream position sits in a collapsed <details>: rendered, not visible
                await page.wait_for_selector(
                    f'[data-testid="cursor"][data-seq="{head}"]', state="attached", timeout=30_000
                )
                times.append(time.perf_counter() - t0)
                rows = await page.locator(".log-line").count()
                assert rows <= 500, f"{rows} log rows in the DOM"
                await context.close()
        finally:
            await browser.close()
    return times


async def part2(args: argparse.Namespace, tmp: Path) -> list[str]:
    server = Server(tmp / "serve")
    await server.start()
    rows: list[str] = []
    async with httpx.AsyncClient(timeout=600) as http:
        try:
            r = await http.post(
                f"{server.base}/api/sessions", json={"subject": "Long session", "language": "en"}
            )
            sid = r.json()["session_id"]
            body = {"session_ids": [sid], "events": args.join, "batch": 1000, "padding": PADDING}
            (await http.post(f"{server.base}/api/_test/produce", json=body)).raise_for_status()
            snap_url = f"{server.base}/api/sessions/{sid}"
            head = (await http.get(snap_url)).json()["seq"]
            gets = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                (await http.get(snap_url)).raise_for_status()
                gets.append(time.perf_counter() - t)
            rows.append(f"| `GET /api/sessions/{{id}}` (HTTP, live server) | {ms(gets)} |")
            await server.stop()
            await server.start()
            t = time.perf_counter()
            assert (await http.get(snap_url)).json()["seq"] == head
            rows.append(f"| first `GET` after a restart | {(time.perf_counter() - t) * 1000:.1f} |")
            ws, ws_cpu = await joins(server, args.join_repeats, lambda: ws_join(server, sid, head))
            rows.append(f"| WebSocket `after=0` until caught up | {ms(ws)} |")
            rows.append(f"| server CPU per WebSocket join | {ms(ws_cpu)} |")
            sse, sse_cpu = await joins(
                server, args.join_repeats, lambda: sse_join_fast(server, sid, head)
            )
            rows.append(f"| SSE `after=0` until caught up (httptools client) | {ms(sse)} |")
            rows.append(f"| server CPU per SSE join | {ms(sse_cpu)} |")
            rows.append(f"| SSE / WebSocket (p50) | {pct(sse, 0.5) / pct(ws, 0.5):.2f}x |")
            slow, _ = await joins(
                server, args.join_repeats, lambda: sse_join(http, server, sid, head)
            )
            rows.append(f"| SSE `after=0` until caught up (httpx client) | {ms(slow)} |")
            rows.append(f"| SSE (httpx) / WebSocket (p50) | {pct(slow, 0.5) / pct(ws, 0.5):.2f}x |")
            if args.browser:
                nav = await browser_times(server, sid, head, args.join_repeats)
                rows.append(
                    f"| Chromium: navigation until the final seq shows (first {nav[0] * 1000:.0f}"
                    f" ms) | {ms(nav)} |"
                )
        finally:
            await server.stop()
    return [
        f"Session of {args.join:,} events (+ the demo run's own), SQLite, one `tk9 serve`; "
        f"{args.repeats} GETs, {args.join_repeats} joins each.",
        "",
        "| what a viewer does | p50 / p99 ms |",
        "|---|---:|",
        *rows,
    ]


async def main(args: argparse.Namespace) -> None:
    head = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="tk9-bench-snapshot-") as tmp_name:
        tmp = Path(tmp_name)
        out = head + await part1(args, tmp) if args.sizes else head
        if args.server:
            out += ["", *await part2(args, tmp)]
    print("\n".join(out))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="1000,10000,100000,1000000", help="events per session")
    p.add_argument("--backends", default="memory,sqlite,redis")
    p.add_argument("--repeats", type=int, default=100, help="snapshots per size")
    p.add_argument("--join", type=int, default=100_000, help="events of the served session")
    p.add_argument("--join-repeats", type=int, default=5, help="fresh viewers per transport")
    p.add_argument("--no-server", dest="server", action="store_false")
    p.add_argument("--no-browser", dest="browser", action="store_false")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.backends = [b for b in args.backends.split(",") if b]
    return args


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    asyncio.run(main(parse_args()))
