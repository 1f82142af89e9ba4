"""The hardened edge: wrong Host, foreign Origin, cross-site writes, huge or slow bodies and
the security headers, each refused or present on every kind of route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.server.accounts import PASSWORD, World, accounts_world
from tk9.server.edge import host_name, origin_allowed

SUBJECT = {"subject": "Tidal power", "language": "en"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with accounts_world(tmp_path_factory.mktemp("edge"), max_body_bytes=4096) as w:
        yield w


def _cookie_client(world: World) -> TestClient:
    c = world.client
    r = c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 204
    return c


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "10.0.0.5", ""])
def test_a_host_not_served_gets_400_on_http_and_websocket(world: World, host: str) -> None:
    r = world.client.get("/api/health", headers={"Host": host})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_host"
    with (
        pytest.raises(WebSocketDisconnect),
        world.client.websocket_connect(
            f"/ws/sessions/{uuid.uuid4()}", headers={"Host": host, **world.auth("alice")}
        ),
    ):
        pass


@pytest.mark.parametrize("host", ["testserver", "localhost:8000", "127.0.0.1", "[::1]:8000"])
def test_listed_and_loopback_hosts_are_served(world: World, host: str) -> None:
    assert world.client.get("/api/health", headers={"Host": host}).status_code == 200


def test_a_foreign_origin_websocket_is_refused_its_own_origin_served(world: World) -> None:
    sid = world.client.post("/api/sessions", json=SUBJECT, headers=world.auth("alice")).json()[
        "session_id"
    ]
    evil = {"Origin": "https://evil.example", **world.auth("alice")}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        world.client.websocket_connect(f"/ws/sessions/{sid}", headers=evil),
    ):
        pass
    assert refused.value.code == 1008
    own = {"Origin": "http://testserver", **world.auth("alice")}
    with world.client.websocket_connect(f"/ws/sessions/{sid}", headers=own) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_a_cross_site_form_post_to_cancel_is_refused(world: World) -> None:
    c = _cookie_client(world)
    sid = c.post("/api/sessions", json=SUBJECT, headers={"Origin": "http://testserver"}).json()[
        "session_id"
    ]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for cross in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = c.post(f"/api/sessions/{sid}/cancel", content=b"x=1", headers={**form, **cross})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = c.delete(f"/api/sessions/{sid}", headers=cross)
        assert r.status_code == 403
    # the same request from the dashboard's own origin goes through
    own = c.post(f"/api/sessions/{sid}/cancel", headers={"Origin": "http://testserver"})
    assert own.status_code == 202
    c.post("/api/auth/logout", headers={"Origin": "http://testserver"})


def test_a_body_over_the_cap_is_413_and_changes_nothing(world: World) -> None:
    before = world.client.get("/api/sessions", headers=world.auth("bob")).json()["sessions"]
    big = {"subject": "x" * 10_000, "language": "en"}
    r = world.client.post("/api/sessions", json=big, headers=world.auth("bob"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b"x" * 1000

    r = world.client.post("/api/sessions", content=chunks(), headers=world.auth("bob"))
    assert r.status_code == 413
    after = world.client.get("/api/sessions", headers=world.auth("bob")).json()["sessions"]
    assert after == before


@pytest.mark.parametrize("path", ["/", "/sessions", "/api/health", "/api/sessions", "/nope"])
def test_security_headers_on_every_response(world: World, path: str) -> None:
    r = world.client.get(path, headers=world.auth("alice"))
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"


def test_helpers() -> None:
    assert host_name("Example.ORG:443") == "example.org"
    assert host_name("[::1]:8000") == "[::1]"
    assert origin_allowed("http://testserver", "testserver", frozenset())
    assert not origin_allowed("http://testserver.evil", "testserver", frozenset())
    assert not origin_allowed("null", "testserver", frozenset())
    assert origin_allowed("https://tk9.example", "x", frozenset({"https://tk9.example"}))
    assert origin_allowed("http://tk9.example:8080", "tk9.example", frozenset())  # nginx $host
    assert origin_allowed("https://tk9.example", "tk9.example:443", frozenset())
    assert not origin_allowed("http://tk9.example:8080", "tk9.example:9000", frozenset())
    assert not origin_allowed("http://[::1", "x", frozenset())


def test_slow_body_is_cut_off(tmp_path: Path) -> None:
    import asyncio

    from tk9.server.edge import Edge, RequestTimeout
    from tk9.settings import Settings

    async def never(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the app must not run")

    edge = Edge(never, Settings(body_timeout=0.01))  # type: ignore[arg-type]

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()  # the body never comes
        return {}

    with pytest.raises(RequestTimeout):
        asyncio.run(edge._read_body({"content-length": "10"}, receive))  # type: ignore[arg-type]
