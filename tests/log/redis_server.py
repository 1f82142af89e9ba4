"""A real ``redis-server`` for tests: own port, own temp dir, no persistence unless asked (AOF).

Importable by any test package (``from tests.log.redis_server import RedisServer``). A missing
``redis-server`` binary is a loud failure, never a skip: the Redis backend must be tested.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Start ``redis-server`` on a free loopback port in ``workdir``; ``stop`` ends it."""

    def __init__(self, workdir: Path, *, appendfsync: str | None = None, port: int = 0) -> None:
        """``appendfsync`` (``always``/``everysec``) turns the AOF on; ``port`` 0 = a free one."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed (apt-get install redis-server); "
                "the Redis event-log backend cannot be tested without it"
            )
        self.workdir, self.appendfsync = workdir, appendfsync
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(workdir),
                "--save", "",
                *(
                    ["--appendonly", "yes", "--appendfsync", appendfsync]
                    if appendfsync
                    else ["--appendonly", "no"]
                ),
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self._wait_ready(timeout=15.0)

    def _wait_ready(self, timeout: float) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                    raise RuntimeError(f"redis-server exited early: {err}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("redis-server did not accept connections") from None
                    time.sleep(0.02)  # waiting for a condition, bounded by the deadline
        finally:
            client.close()

    def restart(self) -> RedisServer:
        """SIGTERM this server, then start a new one on the same port and directory (with the
        AOF on, it loads what the old one wrote)."""
        self.stop()
        return RedisServer(self.workdir, appendfsync=self.appendfsync, port=self.port)

    def flush(self) -> None:
        """Empty every database (between tests)."""
        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            client.flushall()

    def stop(self) -> None:
        """Terminate the server and wait for it (killing it if it does not exit)."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._proc.stderr:
            self._proc.stderr.close()
