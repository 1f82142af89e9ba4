"""Redis restarted mid-run, with the AOF on (``appendfsync always``), real processes: one
``tk9 serve`` web node and one ``tk9 worker`` on a ``redis-server`` whose data directory is a
temp dir. While the worker executes a run, redis-server gets SIGTERM and is started again on
the same port and directory. The run must finish or end with a clear status, and a viewer
long-polling the web node throughout must see every event exactly once, in order (or an
explicit reset): nothing that was appended is lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.log.redis_server import RedisServer
from tests.support import ServerProcess, stop_process, wait_until
from tk9.events import TERMINAL_RUN_STATUSES, Event, RunStatus
from tk9.projection import fold, initial_state
from tk9.state import SessionState

pytestmark = pytest.mark.redis


class Viewer:
    """Long-polls the event feed, tolerating the outage (5xx, refused connections)."""

    def __init__(self, url: str, sid: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=40)
        self.sid = sid
        self.state = initial_state(sid, "")
        self.seqs: list[int] = []
        self.resets = 0
        self.errors = 0

    def poll(self) -> None:
        params = {"after": str(self.state.seq), "wait": "2"}
        if self.state.epoch:
            params["epoch"] = self.state.epoch
        try:
            r = self.client.get(f"/api/sessions/{self.sid}/events", params=params)
        except httpx.TransportError:
            self.errors += 1
            return
        if r.status_code >= 500:
            self.errors += 1
            return
        assert r.status_code == 200, r.text
        page = r.json()
        if page.get("reset"):
            self.resets += 1
            self.state = SessionState.model_validate(page["reset"])
        events = [Event.model_validate(e) for e in page["events"]]
        self.seqs += [e.seq for e in events]
        self.state = fold(events, self.state)

    def ended(self) -> bool:
        self.poll()
        return self.state.status in TERMINAL_RUN_STATUSES


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[list[RedisServer]]:
    """One redis-server with the AOF in a temp dir (a list: the test swaps in the restart)."""
    (tmp_path / "redis").mkdir()
    servers = [RedisServer(tmp_path / "redis", appendfsync="always")]
    try:
        yield servers
    finally:
        servers[-1].stop()


def test_redis_restarted_mid_run_loses_nothing_a_viewer_saw_or_will_see(
    aof_redis: list[RedisServer], tmp_path: Path
) -> None:
    redis = aof_redis[0]
    data = tmp_path / "data"
    data.mkdir()
    env = {
        "TK9_RUN_MODE": "queue",
        "TK9_LOG_BACKEND": "redis",
        "TK9_REDIS_URL": redis.url,
        "TK9_DEMO_PRODUCER": "1",
        "TK9_USE_WIKI_CORPUS": "false",
        "TK9_LOG_LEVEL": "warning",
        "TK9_DEMO_INTERVAL": "0.02",
        "TK9_DEMO_EVENTS": "300",
    }
    web = ServerProcess(data, env={**env, "TK9_NODE_ID": "web-1"}).start()
    out = (tmp_path / "worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tk9.cli", "worker", "--data-dir", str(data)],
        env={**os.environ, **env, "TK9_NODE_ID": "worker-1"},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        r = web.api("POST", "/api/sessions", json={"subject": "tides", "language": "en"})
        assert r.status_code == 201, r.text
        sid = str(r.json()["session_id"])
        viewer = Viewer(web.url, sid)
        wait_until(lambda: viewer.poll() or viewer.state.seq >= 20, 30, "the run to be going")
        before = viewer.state.seq
        assert viewer.state.status == RunStatus.RUNNING

        aof_redis.append(redis.restart())  # SIGTERM, then the same dir and port
        restarted = time.monotonic()

        wait_until(viewer.ended, 60, "the run to end")
        took = time.monotonic() - restarted
        final = viewer.state
        assert viewer.seqs == list(range(1, final.seq + 1)), "every event once, in order"
        assert final.seq > before
        assert viewer.resets == 0
        assert final.status in (RunStatus.COMPLETED, RunStatus.INTERRUPTED), final.status
        if final.status == RunStatus.INTERRUPTED:
            assert final.error
        snapshot = web.api("GET", f"/api/sessions/{sid}").json()
        assert snapshot["status"] == final.status.value and snapshot["seq"] == final.seq
        print(
            f"redis restart mid-run -> {final.status.value} after {took:.1f} s, "
            f"{final.seq} events, {viewer.errors} failed polls"
        )
    finally:
        stop_process(worker)
        out.close()
        web.stop()
