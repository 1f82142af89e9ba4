"""A real ``tk9 serve``: a client that never finishes its request head is disconnected."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import ServerProcess, _server


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _server(tmp_path, TK9_HEAD_TIMEOUT="1")


def test_a_trickled_request_head_is_cut_off_a_whole_one_served(quick: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as slow:
        slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the server, not answered
        assert time.monotonic() - started < 5
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as ok:
        ok.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert ok.recv(1024).startswith(b"HTTP/1.1 200")
