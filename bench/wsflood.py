"""The issue-10 WebSocket flood probe, used by ``bench/edge.py``.

One client opens a viewer WebSocket, then writes frames as fast as it can for ``FLOOD_S``
seconds and never reads a byte: ``ping`` sends WebSocket ping control frames (125-byte
payload, each answered by a pong the server must buffer), ``text`` sends the protocol's own
``{"type":"ping"}`` text frames. Meanwhile another user's viewer measures its ping -> pong round
trip, and the server's RSS is sampled. Afterwards the flooder stays connected and silent on
the reading side: how long until the server drops it (TCP state leaves ESTABLISHED)?

:func:`storm_probe` is the reconnect storm alone: handshake, hang up, again, as fast as one
client can, with the same viewer measuring next to it.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.wsraw import (  # noqa: E402
    TCP_ESTABLISHED,
    open_raw,
    rss_kib,
    tcp_state,
    try_open,
)

FLOOD_S = 10.0
DROP_WAIT_S = 45.0


def flood_frames(kind: str) -> tuple[bytes, int]:
    """~64 KiB of masked client frames, repeated by the flooder; and one frame's length."""
    if kind == "ping":
        frame = Frame(Opcode.PING, b"p" * 125)
    else:
        frame = Frame(Opcode.TEXT, json.dumps({"type": "ping"}).encode())
    one = frame.serialize(mask=True, extensions=[])
    return one * (65536 // len(one)), len(one)


def round_trips(ws_url: str, token: str, stop: Any, out: Any) -> None:
    """Ping -> pong round trips (ms) until ``stop``; sent to the ``out`` queue at the end."""
    times: list[float] = []
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        while not stop.is_set():
            started = time.perf_counter()
            ws.send(json.dumps({"type": "ping", "ts": started}))
            while True:
                frame = json.loads(ws.recv(timeout=30))
                if frame.get("type") == "pong" and frame.get("ts") == started:
                    break
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)  # ~40 pings a second: well inside the frame budget
    out.put(times)


class OtherViewer:
    """Another user's viewer in its own process (the flooder's loop does not share its GIL)."""

    def __init__(self, ws_url: str, token: str) -> None:
        ctx = mp.get_context("fork")
        self.stop = ctx.Event()
        self.out: Any = ctx.Queue()
        self.proc = ctx.Process(target=round_trips, args=(ws_url, token, self.stop, self.out))
        self.proc.start()

    def finish(self) -> list[float]:
        self.stop.set()
        times: list[float] = self.out.get(timeout=60)
        self.proc.join(10)
        return times


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)}"
    qs = statistics.quantiles(values, n=100)
    return f"median {statistics.median(values):.1f} ms, p99 {qs[98]:.1f} ms (n={len(values)})"


def flood_probe(
    url: str, port: int, tokens: dict[str, str], pid: int, kind: str, pause: float = 0.0
) -> None:
    """``pause``: seconds between two frames (0: as fast as the socket takes them)."""
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    sid = httpx.post(
        url + "/api/sessions", json={"subject": "Tidal power", "language": "en"}, headers=alice
    ).json()["session_id"]
    bob_sid = httpx.post(
        url + "/api/sessions",
        json={"subject": "Wind power", "language": "en"},
        headers={"Authorization": f"Bearer {tokens['bob']}"},
    ).json()["session_id"]
    ws_base = f"ws://127.0.0.1:{port}/ws/sessions/"
    viewer = OtherViewer(ws_base + bob_sid, tokens["bob"])
    time.sleep(3)
    quiet = viewer.finish()
    base = rss_kib(pid)

    flooder = open_raw(ws_base + sid, tokens["alice"])
    flooder.settimeout(0.2)
    block, frame_len = flood_frames(kind)
    if pause:
        block = block[:frame_len]
    viewer = OtherViewer(ws_base + bob_sid, tokens["bob"])
    sent = 0
    peak = base
    refused = ""
    drops = refusals = 0
    started = time.monotonic()
    opened = started
    next_sample = started
    while time.monotonic() - started < FLOOD_S:
        try:
            sent += flooder.send(block)
        except TimeoutError:
            pass  # the server stopped reading: its socket buffers are full
        except OSError as exc:
            # dropped by the server: count it and come back at once (the attacker)
            drops += 1
            refused = (
                f"dropped by the server {drops} times, {time.monotonic() - opened:.2f} s "
                f"after connecting the last time ({type(exc).__name__}), reconnected each time"
            )
            flooder.close()
            while True:  # over the connection rate: 429s until the bucket lets it in
                try:
                    flooder = open_raw(ws_base + sid, tokens["alice"])
                    break
                except AssertionError:
                    refusals += 1
                    if time.monotonic() - started >= FLOOD_S:
                        break
            if flooder.fileno() == -1:
                break  # refused until the end
            flooder.settimeout(0.2)
            opened = time.monotonic()
        if pause:
            time.sleep(pause)
        if time.monotonic() >= next_sample:
            peak = max(peak, rss_kib(pid))
            next_sample += 0.25
    loaded = viewer.finish()
    flood_end = time.monotonic()
    peak = max(peak, rss_kib(pid))
    if refusals:
        refused += f"; {refusals:,} reconnects refused (429)"
    dropped = refused
    if flooder.fileno() != -1 and (not pause or not dropped):
        while time.monotonic() - flood_end < DROP_WAIT_S:
            if tcp_state(flooder) != TCP_ESTABLISHED:
                dropped += (
                    f"; last connection dropped {time.monotonic() - opened:.1f} s after it opened"
                )
                break
            time.sleep(0.1)
        else:
            dropped += f"; still connected {DROP_WAIT_S:.0f} s after the flood stopped"
    held = rss_kib(pid)
    flooder.close()
    rate = f"{1 / pause:g}/s" if pause else "flat out"
    print(
        f"{kind} flood ({rate}), {FLOOD_S:g} s, never reading: "
        f"{sent / 2**20:.1f} MiB written to the socket "
        f"({sent // frame_len:,} frames); "
        f"server RSS peak +{(peak - base) / 1024:.1f} MiB, +{(held - base) / 1024:.1f} MiB "
        f"after; {dropped.lstrip('; ')}"
    )
    print(f"  other viewer's round trip: before {quantiles(quiet)}; during {quantiles(loaded)}")


def storm_worker(ws_url: str, token: str, out: Any) -> None:
    """Handshake, hang up, again, for ``FLOOD_S`` seconds; the answers' counts to ``out``."""
    codes: dict[int, int] = {}
    started = time.monotonic()
    while time.monotonic() - started < FLOOD_S:
        code = try_open(ws_url, token)
        codes[code] = codes.get(code, 0) + 1
    out.put(codes)


def storm_probe(url: str, port: int, tokens: dict[str, str], pid: int, workers: int = 4) -> None:
    """Alice reconnects as fast as she can for ``FLOOD_S`` s from ``workers`` processes
    (handshake, hang up, again: the issue's flooder after each close) while bob's viewer
    measures its round trips."""
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    sid = httpx.post(
        url + "/api/sessions", json={"subject": "Tidal power", "language": "en"}, headers=alice
    ).json()["session_id"]
    bob_sid = httpx.post(
        url + "/api/sessions",
        json={"subject": "Wind power", "language": "en"},
        headers={"Authorization": f"Bearer {tokens['bob']}"},
    ).json()["session_id"]
    ws_base = f"ws://127.0.0.1:{port}/ws/sessions/"
    viewer = OtherViewer(ws_base + bob_sid, tokens["bob"])
    time.sleep(3)
    quiet = viewer.finish()
    base = peak = rss_kib(pid)
    cpu_before = cpu_seconds(pid)
    viewer = OtherViewer(ws_base + bob_sid, tokens["bob"])
    ctx = mp.get_context("fork")
    out: Any = ctx.Queue()
    procs = [
        ctx.Process(target=storm_worker, args=(ws_base + sid, tokens["alice"], out))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    started = time.monotonic()
    while time.monotonic() - started < FLOOD_S:
        peak = max(peak, rss_kib(pid))
        time.sleep(0.25)
    codes: dict[int, int] = {}
    for _ in procs:
        for code, n in out.get(timeout=60).items():
            codes[code] = codes.get(code, 0) + n
    for proc in procs:
        proc.join(10)
    loaded = viewer.finish()
    cpu = cpu_seconds(pid) - cpu_before
    answers = ", ".join(f"{n:,} x {code}" for code, n in sorted(codes.items()))
    print(
        f"reconnect storm, {workers} clients x {FLOOD_S:g} s: {sum(codes.values()):,} "
        f"handshakes ({answers}); "
        f"server CPU {cpu:.1f} s; RSS peak +{(peak - base) / 1024:.1f} MiB"
    )
    print(f"  other viewer's round trip: before {quantiles(quiet)}; during {quantiles(loaded)}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
