"""The compose profile ``scale`` as real processes: Debian's Caddy with ``deploy/Caddyfile``
load-balancing two ``tk9 serve`` web nodes, two ``tk9 worker`` processes, one redis-server
(tests/scale/cluster.py).

* a viewer following through Caddy sees all seven cards and every file of a run a worker
  executes, and every file and the ZIP download through Caddy and from either web node;
* ``kill -9`` of a web node under 50 WebSocket viewers (the project's client, as the fault
  suite uses it): every viewer resumes through Caddy on the other node and ends with exactly
  the log's events, in order, none lost or twice, and the snapshot's state. The 1,000-viewer
  version with its resume-time figure is ``bench/scale.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness.checker import check_viewer, read_truth
from tests.faults.harness.viewers import Viewer, wait_for
from tests.log.redis_server import RedisServer
from tests.scale.cluster import Cluster, follow, queue_env, snapshot
from tk9.events import AgentStatus, RunStatus

pytestmark = pytest.mark.redis

VIEWERS = 50


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The profile's processes, with its own redis-server fsyncing the AOF on every write."""
    root = tmp_path_factory.mktemp("scale-caddy")
    (root / "redis").mkdir()
    redis_server = RedisServer(root / "redis", appendfsync="always")
    data = root / "data"
    data.mkdir()
    env = queue_env(
        redis_server.url,
        TK9_HEARTBEAT_INTERVAL="1",
        TK9_HEARTBEAT_TIMEOUT="1.5",
        TK9_DEMO_INTERVAL="0.05",
        TK9_DEMO_EVENTS="200",
    )
    made = Cluster(redis_server, data, env)
    try:
        made.start_web("web-1")
        made.start_web("web-2")
        made.worker()
        made.worker()
        made.start_caddy()
        yield made
    finally:
        made.stop()
        redis_server.stop()


def test_a_viewer_through_caddy_sees_every_card_and_file_of_a_run_a_worker_executes(
    topology: Cluster,
) -> None:
    caddy = topology.caddy
    assert caddy is not None
    sid = topology.create(caddy, "tides and the moon", "es")
    state = follow(caddy.url, sid)
    assert state.status == RunStatus.COMPLETED
    assert len(state.agents) == 7
    assert {c.status for c in state.agents.values()} == {AgentStatus.COMPLETED}
    assert sorted(f.language for f in state.files) == ["en", "es"]
    worker = snapshot(caddy, sid)
    assert worker["status"] == "completed"
    for via in (caddy, *topology.web):
        for file in state.files:
            r = via.api("GET", file.path)
            assert r.status_code == 200, (file.name, r.text)
            assert hashlib.sha256(r.content).hexdigest() == file.sha256
        r = via.api("GET", f"/api/sessions/{sid}/files.zip")
        assert r.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert {f.name for f in state.files} <= {Path(n).name for n in names}


async def test_kill_9_of_a_web_node_every_viewer_resumes_on_the_other_one(
    topology: Cluster,
) -> None:
    caddy = topology.caddy
    assert caddy is not None
    victim, survivor = topology.web
    sid = topology.create(caddy, "tides and the moon", "en")
    viewers = [Viewer(f"v{i}", caddy.url, sid, "ws", seed=i) for i in range(VIEWERS)]
    tasks = [asyncio.create_task(v.run()) for v in viewers]
    try:
        await wait_for(
            lambda: all(following(v) for v in viewers), timeout=60, what="every viewer to follow"
        )
        on_victim = await asyncio.to_thread(connections, victim.url)
        assert on_victim > 0, "Caddy sent no viewer to web-1"
        await asyncio.to_thread(victim.kill)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(victim.start)  # back for the rest of the module
    truth = await read_truth(survivor.url, sid)
    assert truth.snapshot.status == RunStatus.COMPLETED
    problems = [p for v in viewers for p in check_viewer(v, truth)]
    assert problems == []
    resumed = sum(1 for v in viewers if v.resumes > 0)
    assert resumed >= on_victim, (resumed, on_victim)


def following(v: Viewer) -> bool:
    """The viewer is on the stream of a run a worker is executing (events flowing)."""
    return v.state is not None and v.state.status == RunStatus.RUNNING and len(v.applied) >= 10


def connections(url: str) -> int:
    """Open viewer connections on a node (its Prometheus metrics)."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=5).text
    lines = [line for line in text.splitlines() if line.startswith("tk9_connections{")]
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in lines)
