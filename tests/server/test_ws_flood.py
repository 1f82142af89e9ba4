"""WebSocket abuse against a real ``tk9 serve`` (uvicorn + :mod:`tk9.server.wsguard`).

A client that floods frames is closed with 1008 and the server's memory stays bounded; a
client that never reads is dropped after the heartbeat timeout whatever it sends; a normal
viewer next to them keeps working. The budget itself is tested with explicit times.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.frames import Close, Frame, Opcode
from websockets.sync.client import connect

from tests.client.conftest import ServerProcess, _server
from tests.server.wsraw import TCP_ESTABLISHED, open_raw, rss_kib, tcp_state
from tests.support import wait_until
from tk9.server.wsguard import FrameBudget


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _server(tmp_path, TK9_WS_FRAMES_PER_SECOND="50", TK9_WS_FRAME_BURST="100")


def new_session(server: ServerProcess) -> str:
    body = {"subject": "Tidal power", "language": "en"}
    r = httpx.post(server.url + "/api/sessions", json=body, timeout=10)
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    return sid


def ws_url(server: ServerProcess, sid: str) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/sessions/{sid}"


def masked(opcode: Opcode, payload: bytes, count: int) -> bytes:
    return Frame(opcode, payload).serialize(mask=True, extensions=[]) * count


def read_close(sock: socket.socket) -> Close | None:
    """Read what the server sends until EOF; the close frame in it, if any."""
    sock.settimeout(20)
    buf = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        buf += data
    while len(buf) >= 2:  # server frames are unmasked: opcode, length, payload
        opcode, length, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            length, at = int.from_bytes(buf[2:4]), 4
        elif length == 127:
            length, at = int.from_bytes(buf[2:10]), 10
        if opcode == Opcode.CLOSE:
            return Close.parse(buf[at : at + length])
        buf = buf[at + length :]
    return None


def test_frame_budget_refills_with_time() -> None:
    budget = FrameBudget(frames_per_second=10, frame_burst=5, bytes_per_second=100, byte_burst=50)
    assert budget.take(5, 10, now=0.0)
    assert not budget.take(1, 0, now=0.0)  # burst spent
    assert budget.take(1, 0, now=0.3)  # 3 frames refilled, one was owed
    assert not budget.take(1, 100, now=0.4)  # bytes: the bucket holds at most 50
    fresh = FrameBudget(frames_per_second=10, frame_burst=5, bytes_per_second=100, byte_burst=50)
    assert not fresh.take(1, 51, now=0.0)


def test_a_frame_flood_is_closed_with_1008_and_others_keep_their_view(
    srv: ServerProcess,
) -> None:
    sid = new_session(srv)
    url = ws_url(srv, sid)
    with connect(url) as viewer:
        hello = json.loads(viewer.recv(timeout=10))
        assert hello["type"] == "hello"
        flooder = open_raw(url)
        # unsolicited pongs: nothing is written back, so the close frame is all that comes
        flooder.sendall(masked(Opcode.PONG, b"x" * 16, 2000))
        close = read_close(flooder)
        flooder.close()
        assert close is not None and close.code == 1008
        assert close.reason == "too many frames"
        viewer.send(json.dumps({"type": "ping", "ts": 1.5}))
        while json.loads(viewer.recv(timeout=10)) != {"type": "pong", "ts": 1.5}:
            pass  # events of the run before the answer


def test_a_ping_flood_that_never_reads_is_dropped_with_memory_bounded(srv: ServerProcess) -> None:
    assert srv.proc is not None
    sid = new_session(srv)
    url = ws_url(srv, sid)
    before = rss_kib(srv.proc.pid)
    flooder = open_raw(url)
    flooder.settimeout(0.2)
    block = masked(Opcode.PING, b"p" * 125, 500)
    sent = 0
    try:
        while sent < 200 * 2**20:  # 200 MiB of pings, if the server took them
            try:
                sent += flooder.send(block)
            except TimeoutError:
                break  # the server stopped reading
            except OSError:
                break  # dropped
        wait_until(lambda: tcp_state(flooder) != TCP_ESTABLISHED, timeout=15, what="drop")
    finally:
        flooder.close()
    assert sent < 64 * 2**20, "the server kept reading a peer that reads nothing"
    grown = rss_kib(srv.proc.pid) - before
    assert grown < 16 * 1024, f"server memory grew {grown} KiB"
    assert httpx.get(srv.url + "/api/health", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "frame",
    [
        masked(Opcode.PING, b"p", 1),  # WebSocket pings: not protocol frames
        masked(Opcode.TEXT, json.dumps({"type": "ack", "seq": 0}).encode(), 1),  # valid ones
    ],
    ids=["ws-pings", "valid-acks"],
)
def test_a_peer_that_never_reads_is_dropped_after_the_heartbeat_timeout(
    srv: ServerProcess, frame: bytes
) -> None:
    """Heartbeat 1 s + 1 s here; frames under the budget, valid or not, do not keep it alive."""
    sid = new_session(srv)
    flooder = open_raw(ws_url(srv, sid))
    polls = 0
    try:

        def sent_and_dropped() -> bool:
            nonlocal polls
            polls += 1
            try:
                if polls % 5 == 0:  # ~10 frames a second, well under the budget; never reads
                    flooder.sendall(frame)
            except OSError:
                return True
            return tcp_state(flooder) != TCP_ESTABLISHED

        # interval + timeout (2 s) + the close grace (3 s), with room for a loaded machine
        wait_until(sent_and_dropped, timeout=15, what="dead peer dropped")
    finally:
        flooder.close()
