"""A real nginx (Debian's binary) running the project's own ``deploy/nginx.conf``.

The deployment file is rendered for the test topology (upstream addresses, listen port, a
private prefix directory) and, on request, deliberately broken the way real deployments break:
response buffering on the SSE route, a read timeout below the heartbeat, or the Upgrade headers
stripped. Every substitution must match, so the harness fails loudly if the deployment file
drifts away from what the tests assume.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEPLOY_CONF = REPO / "deploy" / "nginx.conf"


class Variant(StrEnum):
    GOOD = "good"
    BUFFERING = "buffering"
    """``proxy_buffering on`` for SSE (ignoring ``X-Accel-Buffering``), plus gzip on it."""
    SHORT_TIMEOUT = "short_timeout"
    """``proxy_read_timeout`` below the heartbeat interval: quiet streams are cut."""
    NO_UPGRADE = "no_upgrade"
    """Upgrade/Connection not forwarded: WebSocket handshakes fail, SSE/long-poll still work."""


def _dur(seconds: float) -> str:
    """An nginx time value (nginx accepts no fractions, so milliseconds)."""
    return f"{round(seconds * 1000)}ms"


def _sub(pattern: str, repl: str, text: str, *, count: int = 0) -> str:
    new, n = re.subn(pattern, repl, text, count=count, flags=re.MULTILINE)
    if n == 0:
        raise AssertionError(f"deploy/nginx.conf no longer contains {pattern!r}")
    return new


def render(
    *,
    upstreams: list[str],
    listen: str,
    prefix: Path,
    read_timeout: float | None = None,
    variant: Variant = Variant.GOOD,
    connect_timeout: float = 2.0,
    shutdown_timeout: float | None = None,
    short_timeout: float = 3.0,
) -> str:
    """deploy/nginx.conf adapted to the test topology (and broken per ``variant``)."""
    text = DEPLOY_CONF.read_text()
    servers = "\n".join(f"        server {u} max_fails=0;" for u in upstreams)
    text = _sub(r"^\s*server tk9:8000;$", servers, text, count=1)
    text = _sub(r"^\s*listen 80;$", f"        listen {listen};", text, count=1)
    text = _sub(r"^pid .*;$", f"pid {prefix}/nginx.pid;", text)
    text = _sub(r"^error_log .*;$", f"error_log {prefix}/error.log info;", text)
    text = _sub(r"^\s*access_log .*;$", f"    access_log {prefix}/access.log;", text)
    text = _sub(r"^worker_processes auto;$", "worker_processes 1;", text)
    text = _sub(r"/tmp/nginx-", f"{prefix}/tmp-", text)
    # Give up quickly on a black-holed upstream so clients retry (and the test stays short).
    text = _sub(
        r"^(\s*)proxy_http_version 1.1;$",
        rf"\1proxy_http_version 1.1;\n\1proxy_connect_timeout {_dur(connect_timeout)};",
        text,
    )
    if shutdown_timeout is not None:
        text = _sub(
            r"^worker_shutdown_timeout .*;$",
            f"worker_shutdown_timeout {_dur(shutdown_timeout)};",
            text,
        )
    if read_timeout is not None:
        text = _sub(r"proxy_read_timeout \w+;", f"proxy_read_timeout {_dur(read_timeout)};", text)
        text = _sub(r"proxy_send_timeout \w+;", f"proxy_send_timeout {_dur(read_timeout)};", text)
    if variant is Variant.BUFFERING:
        # tk9 sends "X-Accel-Buffering: no", which nginx obeys; a proxy that ignores it (as most
        # non-nginx proxies do) is what this variant stands for.
        text = _sub(
            r"proxy_buffering off;",
            "proxy_buffering on; proxy_ignore_headers X-Accel-Buffering;",
            text,
        )
        text = _sub(r"^\s*add_header X-Accel-Buffering no;\n", "", text)
        text = _sub(r"^\s*gzip off;$", "        gzip on; gzip_types text/event-stream;", text)
    elif variant is Variant.SHORT_TIMEOUT:
        text = _sub(r"proxy_read_timeout \w+;", f"proxy_read_timeout {_dur(short_timeout)};", text)
    elif variant is Variant.NO_UPGRADE:
        text = _sub(r"^\s*proxy_set_header Upgrade \$http_upgrade;\n", "", text)
        text = _sub(r"^\s*proxy_set_header Connection \$connection_upgrade;\n", "", text)
    return text


@dataclass
class Nginx:
    """One nginx master process with its own prefix directory."""

    prefix: Path
    port: int
    upstreams: list[str]
    read_timeout: float | None = None
    variant: Variant = Variant.GOOD
    shutdown_timeout: float | None = 1.0
    short_timeout: float = 3.0
    listen_host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def write_conf(self) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            render(
                upstreams=self.upstreams,
                listen=f"{self.listen_host}:{self.port}",
                prefix=self.prefix,
                read_timeout=self.read_timeout,
                variant=self.variant,
                shutdown_timeout=self.shutdown_timeout,
                short_timeout=self.short_timeout,
            )
        )
        check = subprocess.run(
            ["nginx", "-t", "-q", "-p", str(self.prefix), "-c", str(self.conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr}")

    def start(self) -> None:
        self.write_conf()
        self._proc = subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.listen_host, self.port, timeout=10)

    def reload(self) -> None:
        """Graceful reload: new workers now, old ones close their streams after the
        ``worker_shutdown_timeout``."""
        assert self._proc is not None
        self.write_conf()
        self._proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """Fast shutdown: every socket, client and upstream, is dropped at once."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_port(host: str, port: int, *, timeout: float) -> None:
    """Wait (bounded) until something accepts TCP connections on ``host:port``."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


__all__ = ["Nginx", "Variant", "free_port", "render", "wait_port"]
