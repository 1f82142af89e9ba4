"""Peer comparison: tk9 against a FastAPI send loop and a bare ``websockets`` broadcast.

    uv run python bench/peers.py                                   # 100 sessions x 10 viewers, 10/s
    uv run python bench/peers.py --sessions 1 --viewers 5000 --rate 2 --servers tk9,fastapi
    uv run python bench/peers.py --sessions 1000 --viewers 1 --rate 10

The producer model is the one research runs have: **one in-process producer per session,
appending one event at a time** on a fixed schedule (``--rate`` events/s per session, phases
spread over one period). tk9 appends through its durable log (``tk9 serve``, SQLite,
``synchronous=FULL``; ``POST /api/_test/produce`` with ``rate``, each event one ``append``);
the peers build tk9's ``event`` frame and fan it out at once (``bench/peers/``). Every server
is pinned to CPU 0 (``taskset -a``), this process (all the viewers) to CPU 1.

Per server: deliveries/s over the produce window, the share of expected deliveries that
arrived, append -> receive latency p50/p99 (the event's ``timestamp`` is taken just before
the append / the fan-out), and the server's CPU use over the window (``/proc/PID/stat``).
tk9's viewers ack every 50 events and answer pings, as the dashboard does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from delivery import (  # type: ignore[import-not-found]
    PADDING,
    Stats,
    Tk9Target,
    free_port,
    pct,
    run,
    viewer,
    wait_for,
)

HERE = Path(__file__).resolve().parent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpu: str) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=False, capture_output=True)


class Peer:
    """A peer server from ``bench/peers/``: viewers on ``/s/{id}``, a paced producer."""

    def __init__(self, name: str, script: str) -> None:
        self.name, self.script = name, script
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, sessions: int) -> list[str]:
        cmd = ["taskset", "-c", "0", sys.executable, str(HERE / "peers" / self.script)]
        self.proc = subprocess.Popen([*cmd, str(self.port)], cwd=HERE / "peers")  # noqa: ASYNC220
        await wait_for(self._healthy, 30, f"{self.name} to start")
        return [f"s{i}" for i in range(sessions)]

    def _healthy(self) -> bool:
        try:
            if self.name == "fastapi":
                return httpx.get(f"http://127.0.0.1:{self.port}/health").status_code == 200
            with __import__("socket").create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except (OSError, httpx.TransportError):
            return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def viewer_url(self, sid: str) -> str:
        return f"ws://127.0.0.1:{self.port}/s/{sid}"

    async def produce(self, sids: list[str], events: int, rate: float) -> None:
        body = {"sessions": sids, "events": events, "rate": rate, "padding": PADDING}
        if self.name == "fastapi":
            async with httpx.AsyncClient(timeout=None) as http:
                (
                    await http.post(f"http://127.0.0.1:{self.port}/produce", json=body)
                ).raise_for_status()
            return
        async with connect(f"ws://127.0.0.1:{self.port}/produce", max_size=None) as ws:
            await ws.send(json.dumps(body))
            await ws.recv()

    async def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Tk9(Tk9Target):  # type: ignore[misc]
    async def start(self, sessions: int) -> list[str]:
        ids: list[str] = await super().start(sessions)
        pin(self.pid, "0")
        return ids

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return int(self.proc.pid)

    async def produce(self, sids: list[str], events: int, rate: float) -> None:
        body = {"session_ids": sids, "events": events, "rate": rate, "padding": PADDING}
        r = await self.http.post(f"{self.base}/api/_test/produce", json=body, timeout=None)
        r.raise_for_status()


async def measure(target: Peer | Tk9, args: argparse.Namespace) -> dict[str, object]:
    try:
        return await _measure(target, args)
    finally:
        await target.close()


async def _measure(target: Peer | Tk9, args: argparse.Namespace) -> dict[str, object]:
    sids = await target.start(args.sessions)
    stats, stop = Stats(), asyncio.Event()
    tasks = [
        asyncio.ensure_future(viewer(target.viewer_url(sid), stats, stop))
        for sid in sids
        for _ in range(args.viewers)
    ]
    expected_viewers = args.sessions * args.viewers
    await asyncio.sleep(args.settle)
    events = max(1, round(args.rate * args.duration))
    stats.reset()
    cpu0, t0 = cpu_seconds(target.pid), time.perf_counter()
    await target.produce(sids, events, args.rate)
    expected = events * expected_viewers
    with contextlib.suppress(TimeoutError):  # what has not arrived by then counts as lost
        await wait_for(lambda: stats.received >= expected, args.drain, "the last deliveries")
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(target.pid) - cpu0
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    ms = [x * 1000 for x in stats.latencies]
    return {
        "server": target.name,
        "viewers": expected_viewers,
        "deliveries/s": stats.received / wall,
        "delivered %": 100.0 * stats.received / expected,
        "p50 ms": pct(ms, 0.5),
        "p99 ms": pct(ms, 0.99),
        "server CPU %": 100.0 * cpu / wall,
    }


async def main(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {1})
    rows = []
    for name in args.servers.split(","):
        with tempfile.TemporaryDirectory(prefix="tk9-peers-") as tmp:
            target: Peer | Tk9
            if name == "tk9":
                target = Tk9(Path(tmp) / "data", concurrency=64)
            else:
                target = Peer(
                    name, {"fastapi": "fastapi_loop.py", "websockets": "bare_websockets.py"}[name]
                )
            rows.append(await measure(target, args))
            print(f"# {rows[-1]}", file=sys.stderr)
    offered = args.sessions * args.viewers * args.rate
    print(
        f"\n{args.sessions} sessions x {args.viewers} viewers x {args.rate:g} events/s "
        f"= {offered:,.0f} deliveries/s offered, {args.duration:g} s, single-event appends\n"
    )
    print("| server | deliveries/s | delivered | p50 ms | p99 ms | server CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['server']} | {r['deliveries/s']:,.0f} | {r['delivered %']:.1f} % "
            f"| {r['p50 ms']:.2f} | {r['p99 ms']:.2f} | {r['server CPU %']:.0f} % |"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--viewers", type=int, default=10)
    ap.add_argument("--rate", type=float, default=10.0, help="events/s per session")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--drain", type=float, default=10.0)
    ap.add_argument("--servers", default="fastapi,websockets,tk9")
    run(main(ap.parse_args()))
