"""The scale-out topology with real processes on one real redis-server: two ``tk9 serve``
web nodes and ``tk9 worker`` processes (``TK9_RUN_MODE=queue``, Redis event log, the scripted
demo producer so a run is quick and deterministic; one shared data directory stands for the
shared volume of the compose profile).

* a viewer long-polling web-1 follows a run created on web-2 and executed by the worker, to
  all seven final cards, and downloads every file (and the ZIP) from both web nodes;
* a cancel on web-1 stops a run the worker executes;
* ``kill -9`` of the worker mid-run: the run ends ``interrupted`` (lease lapsed) within 30 s,
  seen through the other web node.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.log.redis_server import RedisServer
from tests.support import ServerProcess, stop_process, wait_until
from tk9.events import AgentStatus, Event, RunStatus
from tk9.projection import fold, initial_state
from tk9.state import SessionState

pytestmark = pytest.mark.redis


@dataclass
class Cluster:
    redis: RedisServer
    data_dir: Path
    env: dict[str, str]
    web: list[ServerProcess]
    workers: list[subprocess.Popen[bytes]]

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

    def create(self, web: ServerProcess, subject: str, language: str) -> str:
        r = web.api("POST", "/api/sessions", json={"subject": subject, "language": language})
        assert r.status_code == 201, r.text
        return str(r.json()["session_id"])


def snapshot(web: ServerProcess, sid: str) -> dict[str, object]:
    r = web.api("GET", f"/api/sessions/{sid}")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


@pytest.fixture(scope="module")
def web_nodes(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The two web nodes, started once for the module (each start costs seconds)."""
    redis_server.flush()
    data = tmp_path_factory.mktemp("cluster") / "data"
    data.mkdir()
    env = {
        "TK9_RUN_MODE": "queue",
        "TK9_LOG_BACKEND": "redis",
        "TK9_REDIS_URL": redis_server.url,
        "TK9_DEMO_PRODUCER": "1",
        "TK9_USE_WIKI_CORPUS": "false",
        "TK9_LOG_LEVEL": "warning",
    }
    web = []
    workers: list[subprocess.Popen[bytes]] = []
    made = Cluster(redis_server, data, env, web, workers)
    try:
        for node in ("web-1", "web-2"):
            web.append(ServerProcess(data, env={**env, "TK9_NODE_ID": node}).start())
        yield made
    finally:
        for server in web:
            server.stop()


@pytest.fixture
def cluster(web_nodes: Cluster) -> Iterator[Cluster]:
    """The web nodes, and the workers a test starts (stopped after it)."""
    try:
        yield web_nodes
    finally:
        for proc in web_nodes.workers:
            stop_process(proc)
        web_nodes.workers.clear()


def follow(web: ServerProcess, sid: str, timeout: float = 60) -> SessionState:
    """A viewer: long-poll the node's event feed and fold it, until the run ends."""
    state = initial_state(sid, "")
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=web.url, timeout=40) as client:
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


def test_a_viewer_on_web_1_sees_every_card_and_file_of_a_run_a_worker_executes(
    cluster: Cluster,
) -> None:
    web1, web2 = cluster.web
    cluster.worker(TK9_DEMO_INTERVAL="0.01", TK9_DEMO_EVENTS="20")
    sid = cluster.create(web2, "tides and the moon", "es")
    state = follow(web1, sid)
    assert state.status == RunStatus.COMPLETED
    assert len(state.agents) == 7
    assert {c.status for c in state.agents.values()} == {AgentStatus.COMPLETED}
    assert sorted(f.language for f in state.files) == ["en", "es"]
    for web in (web1, web2):
        for file in state.files:
            r = web.api("GET", file.path)
            assert r.status_code == 200, (web.url, file.name, r.text)
            assert hashlib.sha256(r.content).hexdigest() == file.sha256
        r = web.api("GET", f"/api/sessions/{sid}/files.zip")
        assert r.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert {f.name for f in state.files} <= {Path(n).name for n in names}
    listed = web1.api("GET", "/api/sessions").json()["sessions"]
    assert (sid, "completed") in [(s["session_id"], s["status"]) for s in listed]


def test_cancel_on_web_1_stops_a_run_the_worker_executes(cluster: Cluster) -> None:
    web1, web2 = cluster.web
    cluster.worker(TK9_DEMO_INTERVAL="0.05", TK9_DEMO_EVENTS="2000")
    sid = cluster.create(web2, "tides and the moon", "en")
    wait_until(lambda: snapshot(web2, sid)["status"] == "running", 30, "the worker to start")
    r = web1.api("POST", f"/api/sessions/{sid}/cancel")
    assert r.status_code == 202 and r.json() == {"cancelled": True}
    wait_until(lambda: snapshot(web2, sid)["status"] == "cancelled", 10, "the cancel")
    agents = snapshot(web1, sid)["agents"]
    assert isinstance(agents, dict)
    assert all(a["status"] in ("completed", "skipped") for a in agents.values())


def test_kill_9_of_the_worker_ends_its_run_interrupted_within_30_s(cluster: Cluster) -> None:
    web1, web2 = cluster.web
    worker = cluster.worker(TK9_DEMO_INTERVAL="0.05", TK9_DEMO_EVENTS="2000")
    sid = cluster.create(web1, "tides and the moon", "en")
    wait_until(lambda: snapshot(web2, sid)["status"] == "running", 30, "the worker to start")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    killed = time.monotonic()
    wait_until(lambda: snapshot(web2, sid)["status"] == "interrupted", 30, "the lapsed lease")
    took = time.monotonic() - killed
    final = snapshot(web1, sid)
    assert "lease" in str(final["error"])
    agents = final["agents"]
    assert isinstance(agents, dict)
    assert all(a["status"] in ("completed", "skipped", "failed") for a in agents.values())
    print(f"kill -9 -> interrupted after {took:.1f} s")  # the figure, shown with -s


def test_deleting_a_session_drops_its_lease_fence_and_cancel_keys(cluster: Cluster) -> None:
    """A run cancelled while only queued (no worker) leaves its cancel request and fencing
    generation in Redis; deleting the session on the other node removes them."""
    import redis as sync_redis

    web1, web2 = cluster.web
    sid = cluster.create(web1, "tides and the moon", "en")
    r = web1.api("POST", f"/api/sessions/{sid}/cancel")
    assert r.status_code == 202 and r.json() == {"cancelled": True}
    assert snapshot(web2, sid)["status"] == "cancelled"
    client = sync_redis.Redis.from_url(cluster.redis.url)
    try:
        keys = lambda: (  # noqa: E731
            client.exists(f"tk9:runs:cancel:{sid}"),
            client.hexists("tk9:runs:fence", sid),
            client.hexists("tk9:runs:holders", sid),
            client.zscore("tk9:runs:leases", sid),
        )
        assert keys()[:2] == (1, True)  # what a delete must clean up
        wait_until(
            lambda: web2.api("DELETE", f"/api/sessions/{sid}").status_code == 204,
            15,  # web-2 learns the run ended at its next reaper pass
            "the delete",
        )
        assert keys() == (0, False, False, None)
        assert web1.api("GET", f"/api/sessions/{sid}").status_code == 404
    finally:
        client.close()
