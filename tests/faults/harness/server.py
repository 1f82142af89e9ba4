"""tk9 server processes for the harness, optionally inside a network namespace.

The process is the real ``tk9 serve`` from the project's virtual environment, started with the
scripted demo producer and the test hooks, and short heartbeat settings so dead connections are
found in seconds (the defaults are measured separately).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.faults.harness.netns import Host

TK9 = str(Path(sys.executable).with_name("tk9"))


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = 8000
    host: Host | None = None
    """Run inside this namespace (listening on its address); None: loopback."""
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.host.address if self.host else "127.0.0.1"

    @property
    def upstream(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.upstream}"

    def start(self, *, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "TK9_DATA_DIR": str(self.data_dir),
            "TK9_HOST": self.address,
            "TK9_PORT": str(self.port),
            "TK9_TEST_HOOKS": "1",
            "TK9_DEMO_PRODUCER": "1",
            "TK9_LOG_LEVEL": "warning",
            **self.env,
        }
        argv = [TK9, "serve"]
        if self.host is not None:
            argv = self.host.exec_argv(argv)
        log = (self.log_path or self.data_dir / "server.log").open("ab")
        self._proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"tk9 exited with {self._proc.returncode}: {self.tail()}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"tk9 not healthy in {timeout} s: {self.tail()}")
            time.sleep(0.1)

    def tail(self, n: int = 2000) -> str:
        path = self.log_path or self.data_dir / "server.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def kill(self) -> None:
        """SIGKILL: no goodbye, sockets are reset by the kernel."""
        self._signal(signal.SIGKILL)

    def terminate(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait: tk9 closes live connections with 1012 and exits."""
        return self._signal(signal.SIGTERM, timeout)

    def _signal(self, sig: int, timeout: float = 10.0) -> int | None:
        if self._proc is None:
            return None
        # ``ip netns exec`` execs the program, so the pid is tk9 itself.
        self._proc.send_signal(sig)
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait(timeout=5)
        self._proc = None
        return code

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.terminate()
        self._proc = None
