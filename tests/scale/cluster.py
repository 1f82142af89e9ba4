"""The scale-out topology as real processes: ``tk9 serve`` web nodes and ``tk9 worker``
processes on one real redis-server (``TK9_RUN_MODE=queue``, the Redis event log, the scripted
demo producer so a run is quick and deterministic), one shared data directory standing for the
compose profile's shared volume, and Debian's Caddy in front with ``deploy/Caddyfile`` — the
compose profile ``scale`` (deploy/compose.yaml + deploy/scale.env) without Docker.

Used by the tests in this folder and by ``bench/scale.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.log.redis_server import RedisServer
from tests.support import ServerProcess, free_port, stop_process, wait_until
from tk9.events import Event, RunStatus
from tk9.projection import fold, initial_state
from tk9.state import SessionState

REPO = Path(__file__).resolve().parents[2]
CADDYFILE = REPO / "deploy" / "Caddyfile"


def queue_env(redis_url: str, **more: str) -> dict[str, str]:
    """What every process of the topology shares (deploy/scale.env, plus the demo producer)."""
    return {
        "TK9_RUN_MODE": "queue",
        "TK9_LOG_BACKEND": "redis",
        "TK9_REDIS_URL": redis_url,
        "TK9_DEMO_PRODUCER": "1",
        "TK9_USE_WIKI_CORPUS": "false",
        "TK9_LOG_LEVEL": "warning",
        **more,
    }


@dataclass
class Caddy:
    """Debian's ``caddy run`` with ``deploy/Caddyfile``, balancing ``upstreams``."""

    workdir: Path
    upstreams: list[str]
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Caddy:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "TK9_SITE_ADDRESS": f":{self.port}",
            "TK9_BIND_ADDRESS": "127.0.0.1",
            "TK9_UPSTREAM": " ".join(self.upstreams),
            "CADDY_ADMIN": f"127.0.0.1:{self.admin_port}",
            "HOME": str(self.workdir),
            "XDG_DATA_HOME": str(self.workdir),
            "XDG_CONFIG_HOME": str(self.workdir),
        }
        out = (self.workdir / "caddy.log").open("ab")
        self.proc = subprocess.Popen(
            ["caddy", "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._healthy, 30, f"caddy on :{self.port}")
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"caddy exited: {(self.workdir / 'caddy.log').read_text()}")
        try:
            return httpx.get(self.url + "/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10)

    def api(self, method: str, path: str, **kw: object) -> httpx.Response:
        return httpx.request(method, self.url + path, timeout=10, **kw)  # type: ignore[arg-type]


@dataclass
class Cluster:
    redis: RedisServer
    data_dir: Path
    env: dict[str, str]
    web: list[ServerProcess] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    caddy: Caddy | None = None

    def start_web(self, node: str, **env: str) -> ServerProcess:
        server = ServerProcess(self.data_dir, env={**self.env, "TK9_NODE_ID": node, **env})
        self.web.append(server.start())
        return server

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        log = (self.data_dir.parent / f"worker-{time.monotonic_ns()}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tk9.cli", "worker", "--data-dir", str(self.data_dir)],
            env={**os.environ, **self.env, "TK9_NODE_ID": f"worker-{len(self.workers)}", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def start_caddy(self) -> Caddy:
        upstreams = [f"127.0.0.1:{w.port}" for w in self.web]
        self.caddy = Caddy(self.data_dir.parent / "caddy", upstreams).start()
        return self.caddy

    def create(self, web: ServerProcess | Caddy, subject: str, language: str) -> str:
        r = web.api("POST", "/api/sessions", json={"subject": subject, "language": language})
        assert r.status_code == 201, r.text
        return str(r.json()["session_id"])

    def stop(self) -> None:
        """Everything this cluster started, proxy first."""
        if self.caddy is not None:
            self.caddy.stop()
        for proc in self.workers:
            stop_process(proc)
        for server in self.web:
            server.stop()


def snapshot(web: ServerProcess | Caddy, sid: str) -> dict[str, object]:
    r = web.api("GET", f"/api/sessions/{sid}")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def follow(base_url: str, sid: str, timeout: float = 60) -> SessionState:
    """A viewer: long-poll the event feed at ``base_url`` and fold it, until the run ends."""
    state = initial_state(sid, "")
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=40) as client:
        while time.monotonic() < deadline:
            params = {"after": str(state.seq), "wait": "10"}
            if state.epoch:
                params["epoch"] = state.epoch
            page = client.get(f"/api/sessions/{sid}/events", params=params).json()
            if page.get("reset"):
                state = SessionState.model_validate(page["reset"])
            state = fold([Event.model_validate(e) for e in page["events"]], state)
            if state.status not in (RunStatus.PENDING, RunStatus.RUNNING):
                return state
    raise AssertionError(f"the run did not end within {timeout} s: {state.status}")
