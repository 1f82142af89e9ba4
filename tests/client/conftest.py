"""A real tk9 server (uvicorn, SQLite data directory) in a child process, for the client tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``tk9 serve`` on a fixed port and data directory; restartable."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until healthy. The free port can be taken by another process between
        choosing it and the server binding it (the server then exits, or a stranger answers):
        then try again on another port."""
        for _ in range(3):
            if self._start_once():
                return
            self.stop()
            self.port = free_port()
        raise AssertionError("tk9 serve did not start on any of three free ports")

    def _start_once(self) -> bool:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tk9.cli", "serve", "--host", "127.0.0.1"),
                *("--port", str(self.port), "--data-dir", str(self.data_dir)),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for attempt in Retrying(
            stop=stop_after_delay(90),  # generous: a cold start on a loaded 2-core host
            wait=wait_fixed(0.05),
            retry=retry_if_exception_type((httpx.TransportError, AssertionError)),
            reraise=True,
        ):
            with attempt:
                if self.proc.poll() is not None:
                    return False  # exited during start-up: most likely the port was taken
                health = httpx.get(f"{self.url}/api/health", timeout=1.0)
                ours = health.status_code == 200 and health.headers.get("content-type") == (
                    "application/json"
                )
                if not ours or "log_backend" not in health.json():
                    return False  # another process's server answers on this port
        return True

    def kill(self) -> None:
        """SIGKILL: no shutdown, no close frames."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _server(tmp_path: Path, **env: str) -> Iterator[ServerProcess]:
    base = {
        "TK9_DEMO_PRODUCER": "1",
        "TK9_TEST_HOOKS": "1",
        "TK9_DEMO_INTERVAL": "0.01",
        "TK9_DEMO_EVENTS": "60",
        "TK9_LOG_LEVEL": "warning",
        "TK9_HEARTBEAT_INTERVAL": "1.0",
        "TK9_HEARTBEAT_TIMEOUT": "1.0",
    }
    server = ServerProcess(tmp_path / "data", {**base, **env})
    try:
        server.start()  # inside: a server that never became healthy is stopped too
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server whose demo producer emits ~80 events, 10 ms apart."""
    yield from _server(tmp_path)


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server whose demo run lasts a few seconds (room to break things mid-run)."""
    yield from _server(tmp_path, TK9_DEMO_INTERVAL="0.03", TK9_DEMO_EVENTS="150")
