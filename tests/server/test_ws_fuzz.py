"""A WebSocket fuzzer against a real ``tk9 serve``: hypothesis-generated malformed, oversized,
binary and unknown frames each get their documented close code (docs/protocol.md), and the
server stays up and keeps serving a normal viewer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.client.conftest import ServerProcess, _server

MAX_FRAME = 64 * 1024  # TK9_MAX_FRAME_BYTES default; uvicorn's ws_max_size is 16 times that


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    tmp: Path = tmp_path_factory.mktemp("wsfuzz")
    for server in _server(tmp, TK9_HEARTBEAT_INTERVAL="15", TK9_HEARTBEAT_TIMEOUT="10"):
        body = {"subject": "Tidal power", "language": "en"}
        sid = httpx.post(server.url + "/api/sessions", json=body, timeout=10).json()["session_id"]
        yield server, f"ws://127.0.0.1:{server.port}/ws/sessions/{sid}"


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


KNOWN = {"ping", "pong", "ack"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
FRAMES = st.one_of(
    st.binary(max_size=256).map(lambda b: (b, 1003)),
    st.text(max_size=200).filter(_not_json).map(lambda t: (t, 4400)),
    json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: (json.dumps(v), 4400)),
    st.text(max_size=40)
    .filter(lambda t: t not in KNOWN)
    .map(lambda t: (json.dumps({"type": t}), 4415)),
    st.one_of(  # lax like pydantic: 87.0 and "87" are seq 87, these are no seq at all
        st.integers(max_value=-1),
        st.text(alphabet="abcxyz ", min_size=1, max_size=5),
        st.floats(allow_nan=False).filter(lambda f: not f.is_integer()),
        st.none(),
        st.lists(st.integers(), max_size=2),
    ).map(lambda seq: (json.dumps({"type": "ack", "seq": seq}), 4400)),
    st.integers(min_value=10**6, max_value=2**62).map(
        lambda seq: (json.dumps({"type": "ack", "seq": seq}), 4422)
    ),
    st.integers(min_value=MAX_FRAME + 1, max_value=4 * MAX_FRAME).map(
        lambda n: ('"' + "x" * (n - 2) + '"', 4413)
    ),
    st.integers(min_value=16 * MAX_FRAME + 1, max_value=17 * MAX_FRAME).map(
        lambda n: (b"\0" * n, 1009)
    ),
)


@given(frame=FRAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_bad_frame_gets_its_close_code(
    fuzz_target: tuple[ServerProcess, str], frame: tuple[str | bytes, int]
) -> None:
    _, url = fuzz_target
    data, code = frame
    with connect(url, max_size=None) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        ws.send(data)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code, (data[:80], closed.value.rcvd)


def test_the_server_is_unharmed(fuzz_target: tuple[ServerProcess, str]) -> None:
    server, url = fuzz_target
    assert httpx.get(server.url + "/api/health", timeout=5).status_code == 200
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        ws.send(json.dumps({"type": "ping", "ts": 7.0}))
        while json.loads(ws.recv(timeout=10)) != {"type": "pong", "ts": 7.0}:
            pass
