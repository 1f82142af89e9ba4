"""The issue's abuse probes against a real ``tk9 serve`` with accounts: each offender gets its
answer (413, 429, a closed connection) and the server's memory stays within a stated bound
while another user is still served. (The WebSocket ping and frame floods are in
``test_ws_flood.py``; round-trip figures under load are in ``bench/edge.py``.)"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.client.conftest import ServerProcess, _server
from tests.server.accounts import seed_users
from tests.server.wsraw import rss_kib, try_open
from tests.support import wait_until

MiB = 1024
"""KiB in a MiB (RSS is read in KiB)."""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict]]:
    tmp = tmp_path_factory.mktemp("abuse")
    tokens = seed_users(tmp / "data" / "tk9.sqlite3")
    for server in _server(tmp, TK9_AUTH="accounts", TK9_HEAD_TIMEOUT="2"):
        yield server, tokens


def _auth(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


def _rss(server: ServerProcess) -> int:
    assert server.proc is not None
    return rss_kib(server.proc.pid)


def test_100_mib_bodies_get_413_and_are_not_read(secured: tuple[ServerProcess, dict]) -> None:
    server, tokens = secured
    before = _rss(server)
    url = server.url + "/api/sessions"
    r = httpx.post(url, content=b"x" * (100 * 2**20), headers=_auth(tokens, "alice"), timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off after the 1 MiB cap
        for _ in range(100):
            yield b"x" * 2**20

    try:
        status = httpx.post(url, content=chunks(), headers=_auth(tokens, "alice"), timeout=60)
        assert status.status_code == 413
    except httpx.HTTPError:
        pass  # the server answered 413 and closed while the client was still writing
    grown = _rss(server) - before
    assert grown < 8 * MiB, f"RSS grew {grown} KiB for two 100 MiB bodies (cap: 1 MiB each)"
    assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200


def test_slowloris_connections_are_cut_off_with_memory_bounded(
    secured: tuple[ServerProcess, dict],
) -> None:
    server, _ = secured
    before = _rss(server)
    held = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        held.append(s)
    try:
        grown = _rss(server) - before
        assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200
        for s in held:
            assert s.recv(16) == b""  # closed by the server (TK9_HEAD_TIMEOUT=2 here)
    finally:
        for s in held:
            s.close()
    assert grown < 16 * MiB, f"200 held connections cost {grown} KiB"


def test_a_session_creation_flood_gets_429(secured: tuple[ServerProcess, dict]) -> None:
    server, tokens = secured
    before = _rss(server)
    codes: dict[int, int] = {}
    with httpx.Client(timeout=30) as http:
        for _ in range(100):
            r = http.post(
                server.url + "/api/sessions",
                json={"subject": "Tidal power", "language": "en"},
                headers=_auth(tokens, "alice"),
            )
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
                assert r.json()["error"]["code"] in ("rate_limited", "too_many_runs")
    assert set(codes) == {201, 429} and codes[201] <= 10, codes  # the burst, at most
    other = httpx.post(
        server.url + "/api/sessions",
        json={"subject": "Wind power", "language": "en"},
        headers=_auth(tokens, "bob"),
        timeout=30,
    )
    assert other.status_code == 201
    grown = _rss(server) - before
    assert grown < 16 * MiB, f"RSS grew {grown} KiB"


def test_a_reconnect_storm_gets_429_before_the_upgrade(
    secured: tuple[ServerProcess, dict],
) -> None:
    """The offender here is the admin (limits apply to admins too); bob, from the same
    address, is let in again as soon as the address bucket (120 at once, 4/s) has a token."""
    server, tokens = secured
    sids = {}
    for who in ("root", "bob"):
        r = httpx.post(
            server.url + "/api/sessions",
            json={"subject": "Tidal power", "language": "en"},
            headers=_auth(tokens, who),
            timeout=30,
        )
        sids[who] = f"ws://127.0.0.1:{server.port}/ws/sessions/{r.json()['session_id']}"
    before = _rss(server)
    codes = [try_open(sids["root"], tokens["root"]) for _ in range(300)]
    assert codes.count(101) <= 40 and codes.count(429) >= 260, codes  # burst 30 (+ refill)
    assert set(codes) <= {101, 429}
    wait_until(lambda: try_open(sids["bob"], tokens["bob"]) == 101 or None, what="bob let in")
    grown = _rss(server) - before
    assert grown < 16 * MiB, f"RSS grew {grown} KiB"
