"""Abuse figures for docs/security.md: a real ``tk9 serve`` (accounts on) against huge bodies,
slowloris connections, a session-creation flood and a WebSocket ping/frame flood from a client
that never reads; prints what it measured.

    uv run python bench/edge.py            # everything
    uv run python bench/edge.py --flood    # only the WebSocket floods
    uv run python bench/edge.py --storm    # only the reconnect storms (4 clients that hang up
                                           # at once; the text-frame flooder reconnecting after
                                           # each 1008): without the connection limits (burst
                                           # 10^6), then with the defaults; `--storm text`
                                           # runs only the probes whose name has "text"
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.wsflood import flood_probe, storm_probe  # noqa: E402
from tests.server.accounts import seed_users  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NO_CONNECT_LIMIT = {"TK9_STREAM_CONNECT_BURST": "1000000", "TK9_ADDRESS_CONNECT_BURST": "1000000"}


def start(**extra: str) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    """A real ``tk9 serve`` with accounts (alice, bob, root): the process, port and tokens."""
    tmp = Path(tempfile.mkdtemp(prefix="tk9-edge-"))
    tokens = seed_users(tmp / "data" / "tk9.sqlite3")
    port = free_port()
    env = {**os.environ, "TK9_AUTH": "accounts", "TK9_DEMO_PRODUCER": "1", "TK9_LOG_LEVEL": "error"}
    argv = [sys.executable, "-m", "tk9.cli", "serve", "--port", str(port), "--data-dir"]
    proc = subprocess.Popen([*argv, str(tmp / "data")], env={**env, **extra})
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, port, tokens


def storm() -> None:
    """Each probe on a fresh server (the buckets a probe empties would refuse the next one)."""
    probes = {
        "1 client": lambda url, port, tokens, pid: storm_probe(url, port, tokens, pid, 1),
        "4 clients": lambda url, port, tokens, pid: storm_probe(url, port, tokens, pid, 4),
        "text flood": lambda url, port, tokens, pid: flood_probe(url, port, tokens, pid, "text"),
    }
    only = sys.argv[sys.argv.index("--storm") + 1 :]
    for name, probe in probes.items():
        if only and not any(word in name for word in only):
            continue
        for label, extra in (("without connection limits", NO_CONNECT_LIMIT), ("now", {})):
            print(f"{name}, {label}:")
            proc, port, tokens = start(**extra)
            try:
                probe(f"http://127.0.0.1:{port}", port, tokens, proc.pid)
            finally:
                proc.terminate()
                proc.wait(10)


def main() -> None:
    if "--storm" in sys.argv:
        storm()
        return
    proc, port, tokens = start()
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    try:
        base = rss_kib(proc.pid)
        print(f"idle RSS: {base / 1024:.1f} MiB")
        for kind in ("ping", "text"):
            flood_probe(url, port, tokens, proc.pid, kind)
        flood_probe(url, port, tokens, proc.pid, "ping", pause=0.05)  # under the frame budget
        if "--flood" in sys.argv:
            return

        body = b"x" * (100 * 1024 * 1024)
        started = time.perf_counter()
        r = httpx.post(url + "/api/sessions", content=body, headers=auth, timeout=60)
        print(
            f"100 MiB body with Content-Length: {r.status_code} in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms, "
            f"RSS +{(rss_kib(proc.pid) - base) / 1024:.1f} MiB"
        )

        def chunks() -> object:
            for _ in range(100):
                yield b"x" * (1024 * 1024)

        started = time.perf_counter()
        try:
            r = httpx.post(url + "/api/sessions", content=chunks(), headers=auth, timeout=60)  # type: ignore[arg-type]
            status = str(r.status_code)
        except httpx.HTTPError as exc:
            status = f"connection closed ({type(exc).__name__})"
        print(
            f"100 MiB chunked body: {status} in {(time.perf_counter() - started) * 1000:.0f} ms, "
            f"RSS +{(rss_kib(proc.pid) - base) / 1024:.1f} MiB"
        )

        socks = []
        for _ in range(600):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(s)
        held = rss_kib(proc.pid)
        started = time.perf_counter()
        for s in socks:
            s.settimeout(30)
            assert s.recv(16) == b""
            s.close()
        print(
            f"600 slowloris connections: all closed by the server within "
            f"{time.perf_counter() - started:.1f} s of the last one opening "
            f"(RSS while held +{(held - base) / 1024:.1f} MiB)"
        )
        before = rss_kib(proc.pid)
        codes: dict[int, int] = {}
        started = time.perf_counter()
        with httpx.Client(timeout=10) as http:
            for _ in range(300):
                post = http.post(
                    url + "/api/sessions",
                    json={"subject": "Tidal power", "language": "en"},
                    headers=auth,
                )
                codes[post.status_code] = codes.get(post.status_code, 0) + 1
        print(
            f"300 session POSTs by one user in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{n} x {code}" for code, n in sorted(codes.items()))
            + f"; RSS +{(rss_kib(proc.pid) - before) / 1024:.1f} MiB"
        )
        other = httpx.post(
            url + "/api/sessions",
            json={"subject": "Wind power", "language": "en"},
            headers={"Authorization": f"Bearer {tokens['bob']}"},
            timeout=10,
        )
        print(f"meanwhile another user's POST: {other.status_code}")
        r = httpx.get(url + "/api/health", timeout=5)
        print(
            f"after all that, /api/health: {r.status_code}; "
            f"RSS +{(rss_kib(proc.pid) - base) / 1024:.1f} MiB"
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
