"""A WebSocket opened by hand on a plain socket, for clients that must never read (abuse tests
and ``bench/wsflood.py``), and the probes they need."""

from __future__ import annotations

import socket
from pathlib import Path

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.protocol import State
from websockets.uri import parse_uri

TCP_ESTABLISHED = 1


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tcp_state(sock: socket.socket) -> int:
    """Linux ``tcpi_state`` of a socket (1 = ESTABLISHED)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return int(info[0])


def open_raw(ws_url: str, token: str | None = None) -> socket.socket:
    """A WebSocket opened by hand (sans-I/O handshake) on a plain socket we never read again."""
    proto = ClientProtocol(parse_uri(ws_url))
    request = proto.connect()
    if token:
        request.headers["Authorization"] = f"Bearer {token}"
    proto.send_request(request)
    uri = parse_uri(ws_url)
    sock = socket.create_connection((uri.host, uri.port))
    sock.sendall(b"".join(proto.data_to_send()))
    while proto.handshake_exc is None and proto.state is not State.OPEN:
        proto.receive_data(sock.recv(65536))
    assert proto.state is State.OPEN, proto.handshake_exc
    return sock


def try_open(ws_url: str, token: str | None = None) -> int:
    """One WebSocket handshake, then hang up at once (a reconnect storm's step): the answer's
    status (101: accepted, 429: rate-limited, 0: no answer)."""
    proto = ClientProtocol(parse_uri(ws_url))
    request = proto.connect()
    if token:
        request.headers["Authorization"] = f"Bearer {token}"
    proto.send_request(request)
    uri = parse_uri(ws_url)
    with socket.create_connection((uri.host, uri.port)) as sock:
        sock.sendall(b"".join(proto.data_to_send()))
        while proto.handshake_exc is None and proto.state is not State.OPEN:
            data = sock.recv(65536)
            if not data:
                break
            proto.receive_data(data)
    if proto.state is State.OPEN:
        return 101
    exc = proto.handshake_exc
    return exc.response.status_code if isinstance(exc, InvalidStatus) else 0
