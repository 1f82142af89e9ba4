"""Delivery benchmark: tk9 against a bare ``websockets`` broadcast server doing the same fan-out.

    uv run python bench/delivery.py                      # 100 sessions x 10 viewers
    uv run python bench/delivery.py --sessions 10 --viewers 5 --events 50 --duration 3

Both servers run in their own process on loopback, one after the other; the viewers and the
producer run in this process. Every viewer is a plain WebSocket client that parses each frame
as JSON (the same work for both servers), answers pings and sends a cumulative ack every 50
events (tk9 only: the bare server ignores them).

Measured, per server:

* **RSS per idle viewer** — server RSS with every viewer connected and idle, minus the RSS
  before they connected, divided by the number of viewers.
* **Saturated throughput** — ``--events`` per session appended as fast as the producer can
  (batches of ``--batch``); deliveries/s = events x viewers / time until the last viewer has
  the last event. Latency percentiles under that load are reported too.
* **Paced latency** — ``--rate`` single-event appends per second (round-robin over the
  sessions) for ``--duration`` s; p50/p99 of append -> receive, where "append" is the
  event's ``timestamp`` (wall clock, taken by the server in the append) and "receive" is the
  viewer's wall clock when the frame is parsed. The bare server stamps the time when it
  receives the producer's message, so its figure has no durable-log write in it.

And for tk9 only: **resume time for a ``--gap``-event gap** — a WebSocket connection with a
cursor ``gap`` events behind the head, timed from ``connect()`` to the last of those events
parsed, repeated ``--repeats`` times (p50/p99).

tk9's appends go through the test hook ``POST /api/_test/append/{id}`` (``TK9_TEST_HOOKS=1``);
the bare server takes them on a producer WebSocket. The output is a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

PADDING = "x" * 80


# --- measurement helpers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest-rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Stats:
    """Shared by all viewers of one server."""

    hellos: int = 0
    received: int = 0
    latencies: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.received = 0
        self.latencies = []


async def viewer(url: str, stats: Stats, stop: asyncio.Event) -> None:
    """One viewer: parse every frame, record append->receive latency, answer pings, ack."""
    async with connect(url, ping_interval=None, compression=None, max_size=None) as ws:
        reader = asyncio.ensure_future(_read(ws, stats))
        await stop.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _read(ws: ClientConnection, stats: Stats) -> None:
    unacked = 0
    async for raw in ws:
        now = time.time()
        msg = json.loads(raw)
        kind = msg["type"]
        if kind in ("event", "events"):
            # tk9 sends every event that is ready at once in one "events" frame
            for event in msg["events"] if kind == "events" else [msg["event"]]:
                if event["payload"].get("message", "").startswith("bench"):
                    stats.latencies.append(now - event["timestamp"])
                    stats.received += 1
                unacked += 1
            if unacked >= 50:
                unacked = 0
                await ws.send(json.dumps({"type": "ack", "seq": event["seq"]}))
        elif kind == "ping":
            await ws.send(json.dumps({"type": "pong", "ts": msg.get("ts")}))
        elif kind == "hello":
            stats.hellos += 1


def bench_event(n: int) -> dict[str, Any]:
    return {
        "event_type": "log",
        "payload": {"level": "info", "message": f"bench {n} {PADDING}", "agent": None},
    }


# --- the two servers under test ------------------------------------------------------------------


class Target:
    """A server process under test: how to start it, subscribe to it and append to it."""

    name: str
    proc: asyncio.subprocess.Process | None = None
    port: int

    async def start(self, sessions: int) -> list[str]:
        raise NotImplementedError

    def viewer_url(self, session_id: str) -> str:
        raise NotImplementedError

    async def append(self, session_id: str, events: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def produce(self, session_ids: list[str], events: int, batch: int) -> None:
        """Append ``events`` per session inside the server, ``batch`` at a time, as fast as
        it accepts them (one producer per session, like research runs)."""
        raise NotImplementedError

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    @property
    def rss(self) -> int:
        assert self.proc is not None, "not started"
        return rss_bytes(self.proc.pid)


class Tk9Target(Target):
    name = "tk9"

    def __init__(self, data_dir: Path, concurrency: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency))
        self.cursor: dict[str, tuple[str, int]] = {}

    async def start(self, sessions: int) -> list[str]:
        env = {
            **os.environ,
            "TK9_TEST_HOOKS": "1",
            "TK9_DEMO_PRODUCER": "1",
            "TK9_DEMO_INTERVAL": "0",
            "TK9_DEMO_EVENTS": "0",
            "TK9_LOG_LEVEL": "warning",
        }
        cmd = [sys.executable, "-m", "tk9.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await wait_for(self._healthy, 30, "tk9 to start")
        ids = []
        for _ in range(sessions):
            r = await self.http.post(
                f"{self.base}/api/sessions", json={"subject": "Benchmark", "language": "en"}
            )
            r.raise_for_status()
            ids.append(r.json()["session_id"])
        # the demo run of each session finishes at once (interval 0); start viewers after it
        for sid in ids:
            await wait_for_terminal(self.http, self.base, sid)
            snap = (await self.http.get(f"{self.base}/api/sessions/{sid}")).json()
            self.cursor[sid] = (snap["epoch"], snap["seq"])
        return ids

    def _healthy(self) -> bool:
        if self.proc is None or self.proc.returncode is not None:
            raise RuntimeError("tk9 exited during start-up")
        try:
            return httpx.get(f"{self.base}/api/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def viewer_url(self, session_id: str) -> str:
        epoch, seq = self.cursor[session_id]
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{session_id}?after={seq}&epoch={epoch}"

    async def append(self, session_id: str, events: list[dict[str, Any]]) -> None:
        r = await self.http.post(
            f"{self.base}/api/_test/append/{session_id}", json={"events": events}
        )
        if r.status_code == 404:
            raise SystemExit("POST /api/_test/append is missing: the server needs TK9_TEST_HOOKS")
        r.raise_for_status()

    async def produce(self, session_ids: list[str], events: int, batch: int) -> None:
        body = {"session_ids": session_ids, "events": events, "batch": batch, "padding": PADDING}
        r = await self.http.post(f"{self.base}/api/_test/produce", json=body, timeout=600)
        r.raise_for_status()

    async def close(self) -> None:
        await self.http.aclose()
        await super().close()


async def wait_for_terminal(http: httpx.AsyncClient, base: str, sid: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        snap = (await http.get(f"{base}/api/sessions/{sid}")).json()
        if snap["status"] in ("completed", "failed", "cancelled", "interrupted"):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"demo run of {sid} did not finish")


class BareTarget(Target):
    """A bare ``websockets`` server: viewers on ``/s/{id}``, appends on ``/produce``."""

    name = "bare websockets"

    def __init__(self, producers: int) -> None:
        self.port = free_port()
        self.producers: list[ClientConnection] = []
        self.n_producers = producers
        self.locks: list[asyncio.Lock] = []

    async def start(self, sessions: int) -> list[str]:
        cmd = [sys.executable, __file__, "--serve-bare", str(self.port)]
        self.proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL)
        uri = f"ws://127.0.0.1:{self.port}/produce"
        deadline = time.monotonic() + 30
        while not self.producers:
            try:
                for _ in range(self.n_producers):
                    self.producers.append(await connect(uri, compression=None, max_size=None))
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        self.locks = [asyncio.Lock() for _ in self.producers]
        return [f"s{i:04d}" for i in range(sessions)]

    def viewer_url(self, session_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/s/{session_id}"

    async def append(self, session_id: str, events: list[dict[str, Any]]) -> None:
        i = hash(session_id) % len(self.producers)
        async with self.locks[i]:
            await self.producers[i].send(json.dumps({"session": session_id, "events": events}))
            await self.producers[i].recv()

    async def produce(self, session_ids: list[str], events: int, batch: int) -> None:
        order = {"produce": session_ids, "events": events, "batch": batch, "padding": PADDING}
        async with self.locks[0]:
            await self.producers[0].send(json.dumps(order))
            await self.producers[0].recv()

    async def close(self) -> None:
        for ws in self.producers:
            await ws.close()
        await super().close()


def serve_bare(port: int) -> None:
    """The ceiling: fan each appended event out to the session's viewers, nothing else."""

    async def main() -> None:
        viewers: dict[str, set[ServerConnection]] = defaultdict(set)
        seqs: dict[str, int] = defaultdict(int)

        async def handler(ws: ServerConnection) -> None:
            path = ws.request.path if ws.request else ""
            if path.startswith("/s/"):
                sid = path[3:]
                viewers[sid].add(ws)
                hello = {"type": "hello", "session_id": sid, "epoch": "bare", "head": seqs[sid]}
                await ws.send(json.dumps(hello))
                try:
                    async for _ in ws:
                        pass
                finally:
                    viewers[sid].discard(ws)
                return
            async for raw in ws:
                req = json.loads(raw)
                if "produce" in req:  # in-process producers, one per session
                    await asyncio.gather(
                        *(
                            produce(sid, req["events"], req["batch"], req["padding"])
                            for sid in req["produce"]
                        )
                    )
                else:
                    for ev in req["events"]:
                        fan_out(req["session"], ev)
                await ws.send("ok")

        def fan_out(sid: str, ev: dict[str, Any]) -> None:
            seqs[sid] += 1
            frame = {
                "type": "event",
                "event": {
                    "seq": seqs[sid],
                    "epoch": "bare",
                    "timestamp": time.time(),
                    "event_type": ev["event_type"],
                    "payload": ev["payload"],
                },
            }
            broadcast(viewers[sid], json.dumps(frame))

        async def produce(sid: str, events: int, batch: int, padding: str) -> None:
            for start in range(0, events, batch):
                for n in range(start, min(events, start + batch)):
                    message = f"bench {n} {padding}"
                    fan_out(sid, {"event_type": "log", "payload": {"message": message}})
                await asyncio.sleep(0)  # one batch per turn of the loop, like an append

        async with serve(handler, "127.0.0.1", port, ping_interval=None, compression=None):
            await asyncio.Future()

    run(main())


# --- phases ------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rss_per_viewer: float = 0.0
    deliveries_per_s: float = 0.0
    saturated_p50: float = 0.0
    saturated_p99: float = 0.0
    paced_rate: float = 0.0
    paced_p50: float = 0.0
    paced_p99: float = 0.0
    resume_p50: float | None = None
    resume_p99: float | None = None


async def run_target(target: Target, args: argparse.Namespace) -> Result:
    try:
        return await _measure(target, args)
    finally:
        await target.close()


async def _measure(target: Target, args: argparse.Namespace) -> Result:
    result = Result(target.name)
    ids = await target.start(args.sessions)
    stats, stop = Stats(), asyncio.Event()
    viewers_total = args.sessions * args.viewers
    rss_before = target.rss
    tasks = []
    for sid in ids:
        for _ in range(args.viewers):
            tasks.append(asyncio.ensure_future(viewer(target.viewer_url(sid), stats, stop)))
            if len(tasks) % 50 == 0:
                await asyncio.sleep(0)  # let handshakes progress (the listen backlog is finite)
    await wait_for(lambda: stats.hellos >= viewers_total, 120, "every viewer's hello")
    await asyncio.sleep(0.5)
    result.rss_per_viewer = (target.rss - rss_before) / viewers_total

    # saturated throughput: one in-process producer per session (the server's own)
    counter = iter(range(10**9))
    expected = len(ids) * args.events * args.viewers
    stats.reset()
    t0 = time.perf_counter()
    await target.produce(ids, args.events, args.batch)
    await wait_for(lambda: stats.received >= expected, 600, "saturated deliveries")
    elapsed = time.perf_counter() - t0
    result.deliveries_per_s = stats.received / elapsed
    result.saturated_p50 = pct(stats.latencies, 0.5)
    result.saturated_p99 = pct(stats.latencies, 0.99)

    # paced latency
    stats.reset()
    total = int(args.rate * args.duration)
    result.paced_rate = args.rate
    start = time.perf_counter()
    inflight: set[asyncio.Future[None]] = set()
    for k in range(total):
        delay = start + k / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sid = ids[k % len(ids)]
        fut = asyncio.ensure_future(target.append(sid, [bench_event(next(counter))]))
        inflight.add(fut)
        fut.add_done_callback(inflight.discard)
    await asyncio.gather(*inflight)
    await wait_for(lambda: stats.received >= total * args.viewers, 120, "paced deliveries")
    result.paced_p50 = pct(stats.latencies, 0.5)
    result.paced_p99 = pct(stats.latencies, 0.99)

    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    if isinstance(target, Tk9Target):
        times = await resume_times(target, args.gap, args.repeats)
        result.resume_p50, result.resume_p99 = pct(times, 0.5), pct(times, 0.99)
    return result


async def resume_times(target: Tk9Target, gap: int, repeats: int) -> list[float]:
    """Seconds from ``connect()`` to the last of ``gap`` missed events, ``repeats`` times."""
    r = await target.http.post(
        f"{target.base}/api/sessions", json={"subject": "Resume", "language": "en"}
    )
    sid = r.json()["session_id"]
    await wait_for_terminal(target.http, target.base, sid)
    await target.append(sid, [bench_event(n) for n in range(gap)])
    snap = (await target.http.get(f"{target.base}/api/sessions/{sid}")).json()
    head, epoch = snap["seq"], snap["epoch"]
    url = f"ws://127.0.0.1:{target.port}/ws/sessions/{sid}?after={head - gap}&epoch={epoch}"
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        async with connect(url, ping_interval=None, compression=None, max_size=None) as ws:
            async for raw in ws:
                msg = json.loads(raw)
                last = msg["events"][-1] if msg["type"] == "events" else msg.get("event")
                if last is not None and last["seq"] == head:
                    break
        times.append(time.perf_counter() - t0)
    return times


# --- report ------------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f}"


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"### Delivery: {args.sessions} sessions x {args.viewers} viewers, loopback",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}. "
        f"Saturated: {args.events} events/session in batches of {args.batch}; "
        f"paced: {args.rate:g} appends/s for {args.duration:g} s.",
        "",
        "| server | deliveries/s (saturated) | p50 / p99 ms (saturated) "
        "| p50 / p99 ms (paced) | RSS per idle viewer | resume of "
        f"{args.gap} events p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        resume = "–" if r.resume_p50 is None else f"{ms(r.resume_p50)} / {ms(r.resume_p99)}"
        lines.append(
            f"| {r.name} | {r.deliveries_per_s:,.0f} | {ms(r.saturated_p50)} / "
            f"{ms(r.saturated_p99)} | {ms(r.paced_p50)} / {ms(r.paced_p99)} | "
            f"{r.rss_per_viewer / 1024:.1f} KiB | {resume} |"
        )
    if len(results) == 2 and results[1].deliveries_per_s:
        ratio = results[0].deliveries_per_s / results[1].deliveries_per_s
        lines += ["", f"tk9 / bare ceiling (saturated deliveries/s): {ratio:.2f}"]
    return "\n".join(lines)


def run(coro: Awaitable[Any]) -> Any:
    """Run with uvloop when it is installed (uvicorn's default loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tk9-bench-") as tmp:
        tk9 = Tk9Target(Path(tmp) / "data", args.concurrency)
        results = [await run_target(tk9, args)]
    results.append(await run_target(BareTarget(args.concurrency), args))
    print(report(results, args))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--viewers", type=int, default=10, help="viewers per session")
    p.add_argument("--events", type=int, default=100, help="events per session (saturated)")
    p.add_argument("--batch", type=int, default=10, help="events per append request")
    p.add_argument("--concurrency", type=int, default=8, help="append connections (paced phase)")
    p.add_argument("--rate", type=float, default=200.0, help="appends/s in the paced phase")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of the paced phase")
    p.add_argument("--gap", type=int, default=1000, help="events missed before a resume")
    p.add_argument("--repeats", type=int, default=50, help="resume measurements")
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.sessions, args.viewers, args.events, args.batch, args.repeats) < 1:
        p.error("counts must be >= 1")
    if args.events % args.batch:
        p.error("--events must be a multiple of --batch")
    return args


if __name__ == "__main__":
    # SIGTERM unwinds like Ctrl-C, so the server processes are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parsed = parse_args()
    if parsed.serve_bare:
        serve_bare(parsed.serve_bare)
    else:
        run(main(parsed))
