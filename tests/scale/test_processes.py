"""The scale-out topology with real processes on one real redis-server: two ``tk9 serve``
web nodes and ``tk9 worker`` processes (``TK9_RUN_MODE=queue``, Redis event log, the scripted
demo producer so a run is quick and deterministic; one shared data directory stands for the
shared volume of the compose profile).

* a viewer long-polling web-1 follows a run created on web-2 and executed by the worker, to
  all seven final cards, and downloads every file (and the ZIP) from both web nodes;
* a cancel on web-1 stops a run the worker executes;
* ``kill -9`` of the worker mid-run: the run ends ``interrupted`` (lease lapsed) within 30 s,
  seen through the other web node;
* deleting a session removes its lease, fencing generation and cancel keys from Redis.
"""

from __future__ import annotations

import hashlib
import io
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.log.redis_server import RedisServer
from tests.scale.cluster import Cluster, follow, queue_env, snapshot
from tests.support import stop_process, wait_until
from tk9.events import AgentStatus, RunStatus

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def web_nodes(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The two web nodes, started once for the module (each start costs seconds)."""
    redis_server.flush()
    data = tmp_path_factory.mktemp("cluster") / "data"
    data.mkdir()
    made = Cluster(redis_server, data, queue_env(redis_server.url))
    try:
        for node in ("web-1", "web-2"):
            made.start_web(node)
        yield made
    finally:
        made.stop()


@pytest.fixture
def cluster(web_nodes: Cluster) -> Iterator[Cluster]:
    """The web nodes, and the workers a test starts (stopped after it)."""
    try:
        yield web_nodes
    finally:
        for proc in web_nodes.workers:
            stop_process(proc)
        web_nodes.workers.clear()


def test_a_viewer_on_web_1_sees_every_card_and_file_of_a_run_a_worker_executes(
    cluster: Cluster,
) -> None:
    web1, web2 = cluster.web
    cluster.worker(TK9_DEMO_INTERVAL="0.01", TK9_DEMO_EVENTS="20")
    sid = cluster.create(web2, "tides and the moon", "es")
    state = follow(web1.url, sid)
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
