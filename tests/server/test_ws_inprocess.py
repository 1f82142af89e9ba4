"""WebSocket endpoint in-process: replay, reset, ping/pong, bad frames and unknown sessions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.server.test_rest import create, finished
from tests.support import wait_until


def receive_events(ws: Any, count: int) -> list[int]:
    """Seqs of the next ``count`` events, whether they come as ``event`` or ``events`` frames."""
    seqs: list[int] = []
    while len(seqs) < count:
        frame = ws.receive_json()
        assert frame["type"] in ("event", "events"), frame
        batch = frame["events"] if frame["type"] == "events" else [frame["event"]]
        seqs += [e["seq"] for e in batch]
    assert len(seqs) == count
    return seqs


def done_session(client: TestClient) -> dict[str, Any]:
    sid = create(client, language="en")
    snap: dict[str, Any] = wait_until(lambda: finished(client, sid), what="demo run")
    return snap


def test_replay_everything_then_resume_from_cursor(client: TestClient) -> None:
    snap = done_session(client)
    sid, head = snap["session_id"], snap["seq"]
    with client.websocket_connect(f"/ws/sessions/{sid}") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["head"] == head and hello["resume_from"] == 0
        seqs = receive_events(ws, head)
    assert seqs == list(range(1, head + 1))
    with client.websocket_connect(f"/ws/sessions/{sid}?after=5&epoch={snap['epoch']}") as ws:
        assert ws.receive_json()["resume_from"] == 5
        seqs = receive_events(ws, head - 5)
    assert seqs == list(range(6, head + 1))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("after=100000&epoch={epoch}", "future_seq"),
        ("after=3&epoch=nope", "unknown_epoch"),
        ("after=3", "unknown_epoch"),
        ("after=-1&epoch={epoch}", "forged"),
    ],
)
def test_unservable_cursor_gets_reset(client: TestClient, query: str, reason: str) -> None:
    snap = done_session(client)
    q = query.format(epoch=snap["epoch"])
    with client.websocket_connect(f"/ws/sessions/{snap['session_id']}?{q}") as ws:
        assert ws.receive_json()["type"] == "hello"
        reset = ws.receive_json()
        assert reset["type"] == "reset" and reset["reason"] == reason
        assert reset["snapshot"]["seq"] == snap["seq"]
        ws.send_text(json.dumps({"type": "ping", "ts": 1}))
        assert ws.receive_json() == {"type": "pong", "ts": 1.0}


def test_ack_and_ping(client: TestClient) -> None:
    snap = done_session(client)
    with client.websocket_connect(f"/ws/sessions/{snap['session_id']}") as ws:
        ws.receive_json()
        receive_events(ws, snap["seq"])
        ws.send_text(json.dumps({"type": "ack", "seq": snap["seq"]}))
        ws.send_text(json.dumps({"type": "ping"}))
        assert ws.receive_json()["type"] == "pong"
    assert "tk9_delivery_lag_seconds_count 1.0" in client.get("/metrics").text


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("garbage", 4400),
        ('{"type":"subscribe"}', 4415),
        ('{"type":"ack","seq":"x"}', 4400),
        ('{"type":"ack","seq":99999}', 4422),
        ('{"type":"ping","ts":"' + "x" * 70_000 + '"}', 4413),
    ],
)
def test_bad_frames_close_only_that_connection(client: TestClient, frame: str, code: int) -> None:
    snap = done_session(client)
    sid = snap["session_id"]
    with client.websocket_connect(f"/ws/sessions/{sid}") as healthy:
        healthy.receive_json()
        with client.websocket_connect(f"/ws/sessions/{sid}") as ws:
            ws.receive_json()
            receive_events(ws, snap["seq"])
            ws.send_text(frame)
            err = ws.receive_json()
            assert err["type"] == "error" and err["close_code"] == code and not err["retryable"]
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_json()
            assert info.value.code == code
        assert receive_events(healthy, snap["seq"]) == list(range(1, snap["seq"] + 1))
        healthy.send_text('{"type":"ping"}')
        assert healthy.receive_json()["type"] == "pong"


def test_unknown_session_closes_4404(client: TestClient) -> None:
    for sid in (str(uuid.uuid4()), "not-a-uuid"):
        with client.websocket_connect(f"/ws/sessions/{sid}") as ws:
            err = ws.receive_json()
            assert err["type"] == "error" and err["close_code"] == 4404
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_json()
            assert info.value.code == 4404
