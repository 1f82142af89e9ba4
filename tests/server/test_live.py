"""Against a real ``tk9 serve`` on a free port: drops, transport switches, SIGKILL and SIGTERM.

Each viewer keeps the list of seqs it applied; the invariant is always the same: that list equals
the log's (1..head), in order, with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse

from tests.support import ServerProcess, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        data_dir=tmp_path / "data",
        env={
            "TK9_DEMO_PRODUCER": "1",
            "TK9_DEMO_INTERVAL": "0.01",
            "TK9_DEMO_EVENTS": "150",
            "TK9_TEST_HOOKS": "1",
            "TK9_SSE_KEEPALIVE": "1",
        },
    ).start()
    yield srv
    srv.stop()


class Viewer:
    """Applies events exactly once by seq; a cursor survives any transport."""

    def __init__(self, base: str, sid: str) -> None:
        self.base = base
        self.sid = sid
        self.epoch: str | None = None
        self.applied: list[int] = []
        self.resets = 0

    @property
    def cursor(self) -> int:
        return self.applied[-1] if self.applied else 0

    def apply(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if seq <= self.cursor:
            return
        assert seq == self.cursor + 1, f"gap: have {self.cursor}, got {seq}"
        self.epoch = event["epoch"]
        self.applied.append(seq)

    def query(self) -> str:
        q = f"after={self.cursor}"
        return q + (f"&epoch={self.epoch}" if self.epoch else "")

    async def ws(self, until: int, stop_after: int | None = None) -> None:
        url = self.base.replace("http", "ws") + f"/ws/sessions/{self.sid}?{self.query()}"
        async with websockets.connect(url) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello"
            self.epoch = hello["epoch"]
            got = 0
            while self.cursor < until:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame["type"] in ("event", "events"):
                    batch = frame["events"] if frame["type"] == "events" else [frame["event"]]
                    for event in batch:
                        self.apply(event)
                        got += 1
                        if stop_after is not None and got >= stop_after:
                            return
                elif frame["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong", "ts": frame["ts"]}))

    async def sse(self, count: int) -> None:
        url = f"{self.base}/api/sessions/{self.sid}/stream?{self.query()}"
        async with httpx.AsyncClient(timeout=20) as c, aconnect_sse(c, "GET", url) as src:
            got = 0
            async for msg in src.aiter_sse():
                if msg.event in ("event", "events"):  # one event, or an ``events`` frame
                    data = json.loads(msg.data)
                    for event in data["events"] if msg.event == "events" else [data]:
                        self.apply(event)
                        got += 1
                    assert msg.id == str(self.cursor)  # the message's last seq
                    if got >= count:
                        return

    async def poll(self, until: int) -> None:
        async with httpx.AsyncClient(timeout=30) as c:
            while self.cursor < until:
                r = await c.get(
                    f"{self.base}/api/sessions/{self.sid}/events?{self.query()}&wait=10&limit=7"
                )
                page = r.json()
                assert page["reset"] is None
                for e in page["events"]:
                    self.apply(e)


def start_session(server: ServerProcess, language: str = "en") -> str:
    r = server.api("POST", "/api/sessions", json={"subject": "Tidal power", "language": language})
    assert r.status_code == 201
    sid: str = r.json()["session_id"]
    return sid


def final_head(server: ServerProcess, sid: str) -> int:
    def done() -> int | None:
        snap = server.api("GET", f"/api/sessions/{sid}").json()
        return snap["seq"] if snap["status"] == "completed" else None

    return wait_until(done, timeout=60, what="run to complete")


async def test_drop_mid_stream_and_resume(server: ServerProcess) -> None:
    sid = start_session(server)
    v = Viewer(server.url, sid)
    await v.ws(until=10**9, stop_after=20)  # leave after 20 events: the socket is torn down
    assert len(v.applied) == 20
    # server-side cut of every connection while a viewer is attached
    task = asyncio.create_task(v.ws(until=10**9))
    await asyncio.to_thread(wait_until, lambda: len(v.applied) > 40, 30, "more events")
    dropped = server.api("POST", "/api/_test/drop-connections").json()["dropped"]
    assert dropped >= 1
    with pytest.raises(websockets.ConnectionClosed):
        await task
    head = final_head(server, sid)
    await v.ws(until=head)
    assert v.applied == list(range(1, head + 1))


async def test_switch_transports_with_one_cursor(server: ServerProcess) -> None:
    sid = start_session(server, language="es")
    v = Viewer(server.url, sid)
    await v.ws(until=10**9, stop_after=30)
    await v.sse(count=30)
    head = final_head(server, sid)
    await v.poll(until=head - 10)
    await v.ws(until=head)
    assert v.applied == list(range(1, head + 1))
    snap = server.api("GET", f"/api/sessions/{sid}").json()
    assert snap["seq"] == v.cursor and snap["epoch"] == v.epoch


async def test_sse_honours_last_event_id(server: ServerProcess) -> None:
    sid = start_session(server)
    head = final_head(server, sid)
    epoch = server.api("GET", f"/api/sessions/{sid}").json()["epoch"]
    url = f"{server.url}/api/sessions/{sid}/stream?after=2&epoch={epoch}"
    async with (
        httpx.AsyncClient(timeout=20) as c,
        aconnect_sse(c, "GET", url, headers={"Last-Event-ID": str(head - 3)}) as src,
    ):
        assert src.response.headers["x-accel-buffering"] == "no"
        seqs, ids = [], []
        async for msg in src.aiter_sse():
            if msg.event in ("event", "events"):
                data = json.loads(msg.data)
                seqs += [e["seq"] for e in (data["events"] if msg.event == "events" else [data])]
                ids.append(int(msg.id))
                if len(seqs) >= 3:
                    break
    assert seqs == [head - 2, head - 1, head]
    assert ids[-1] == head  # a message's id is its last seq: Last-Event-ID resumes after it


async def test_sigkill_mid_stream_then_restart_on_same_data(tmp_path: Path) -> None:
    env = {"TK9_DEMO_PRODUCER": "1", "TK9_DEMO_INTERVAL": "0.01", "TK9_DEMO_EVENTS": "400"}
    srv = ServerProcess(data_dir=tmp_path / "data", env=env).start()
    try:
        sid = start_session(srv)
        v = Viewer(srv.url, sid)
        await v.ws(until=10**9, stop_after=50)
        srv.kill()
        epoch_before = v.epoch
        srv2 = ServerProcess(data_dir=tmp_path / "data", env=env, port=srv.port).start()
        try:
            snap = srv2.api("GET", f"/api/sessions/{sid}").json()
            # the run did not survive the crash: it is marked, not left "running" forever
            assert snap["status"] == "interrupted"
            assert snap["epoch"] == epoch_before and snap["seq"] >= 50
            await v.ws(until=snap["seq"])
            assert v.applied == list(range(1, snap["seq"] + 1))
        finally:
            srv2.stop()
    finally:
        srv.stop()


async def test_sigterm_closes_viewers_with_1012(server: ServerProcess) -> None:
    sid = start_session(server)
    url = server.ws_url + f"/ws/sessions/{sid}"
    async with websockets.connect(url) as ws:
        await ws.recv()
        await asyncio.to_thread(server.stop)
        with pytest.raises(websockets.ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 20)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    assert '"event": "stopped"' in server.logs() or "stopped" in server.logs()


async def test_sse_keepalive_is_a_visible_ping_event(server: ServerProcess) -> None:
    sid = start_session(server)
    head = final_head(server, sid)
    epoch = server.api("GET", f"/api/sessions/{sid}").json()["epoch"]
    url = f"{server.url}/api/sessions/{sid}/stream?after={head}&epoch={epoch}"
    async with httpx.AsyncClient(timeout=20) as c, aconnect_sse(c, "GET", url) as src:
        kinds = []
        async for msg in src.aiter_sse():
            kinds.append(msg.event)
            if msg.event == "ping":
                assert json.loads(msg.data)["type"] == "ping"
                break
    assert kinds == ["hello", "ping"]  # nothing after the head: only liveness


async def test_acks_through_the_real_socket_feed_the_lag_metric_and_a_forged_one_closes(
    server: ServerProcess,
) -> None:
    """tk9's uvicorn protocol hands plain acks to the viewer where they arrive (no ASGI
    message): they still count as acks, and one beyond what was sent still closes 4422."""
    sid = start_session(server)
    head = final_head(server, sid)

    def lag_count() -> float:
        for line in server.api("GET", "/metrics").text.splitlines():
            if line.startswith("tk9_delivery_lag_seconds_count"):
                return float(line.split()[-1])
        return 0.0

    before = lag_count()
    url = server.url.replace("http", "ws") + f"/ws/sessions/{sid}?after=0"
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        seen = 0
        while seen < head:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if frame["type"] in ("event", "events"):
                seen = (frame["events"][-1] if frame["type"] == "events" else frame["event"])["seq"]
                await ws.send(json.dumps({"type": "ack", "seq": seen}))
        wait_until(lambda: lag_count() > before or None, timeout=20, what="acks observed")
        await ws.send(json.dumps({"type": "ack", "seq": head + 50}))
        last: dict[str, Any] = {}
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                last = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4422
        assert last["type"] == "error" and last["code"] == "bad_ack"
