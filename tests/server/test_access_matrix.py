"""Who reaches what: two users and an anonymous client x every route and transport.

A session is reachable only by its owner and admins. Everyone else gets exactly what an
unknown session gets (404 ``session_not_found``, WebSocket close 4404), so they cannot even
tell it exists; anonymous callers get 401 (WebSocket close 4401) everywhere but the login
route, the health check and the dashboard's files.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.server.accounts import World, accounts_world
from tests.support import wait_until

SESSION_ROUTES = [
    ("GET", "/api/sessions/{sid}"),
    ("GET", "/api/sessions/{sid}/events"),
    ("GET", "/api/sessions/{sid}/stream"),
    ("GET", "/api/sessions/{sid}/files.zip"),
    ("GET", "/api/sessions/{sid}/files/demo-report-en.md"),
    ("POST", "/api/sessions/{sid}/cancel"),
    ("DELETE", "/api/sessions/{sid}"),
]
SERVICE_ROUTES = [
    ("GET", "/api/feed/sessions"),
    ("GET", "/api/sessions"),
    ("POST", "/api/sessions"),
    ("GET", "/api/config"),
    ("GET", "/api/auth/me"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with accounts_world(tmp_path_factory.mktemp("matrix")) as w:
        yield w


def _create(world: World, who: str) -> str:
    r = world.client.post(
        "/api/sessions", json={"subject": "Tidal power", "language": "en"}, headers=world.auth(who)
    )
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    wait_until(
        lambda: (
            world.client.get(f"/api/sessions/{sid}", headers=world.auth(who)).json()["status"]
            == "completed"
        ),
        what="demo run to finish",
    )
    return sid


def _call(world: World, method: str, path: str, who: str | None) -> tuple[int, str]:
    body = {"subject": "Tidal power", "language": "en"} if method == "POST" else None
    r = world.client.request(method, path, json=body, headers=world.auth(who))
    try:
        error = r.json().get("error") if r.status_code >= 400 else None
    except ValueError:
        error = None
    return r.status_code, error["code"] if isinstance(error, dict) else ""


def _ws_close(world: World, sid: str, who: str | None) -> int:
    with world.client.websocket_connect(f"/ws/sessions/{sid}", headers=world.auth(who)) as ws:
        first = ws.receive_json()
        if first["type"] != "error":
            return 0  # served
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return closed.value.code


ADMIN_ROUTES = [("GET", "/metrics")]


def test_anonymous_gets_401_on_every_route_and_transport(world: World) -> None:
    sid = _create(world, "alice")
    for method, route in SESSION_ROUTES + SERVICE_ROUTES + ADMIN_ROUTES:
        status, code = _call(world, method, route.format(sid=sid), None)
        assert (status, code) == (401, "unauthorized"), (method, route)
    assert _ws_close(world, sid, None) == 4401
    # what stays public: signing in, the health check, the dashboard shell
    assert world.client.get("/api/health").status_code == 200
    assert world.client.get("/sessions").status_code == 200
    bad = world.client.post("/api/auth/login", json={"username": "alice", "password": "nope-nope"})
    assert bad.status_code == 401


def test_another_user_cannot_tell_a_session_from_a_missing_one(world: World) -> None:
    sid = _create(world, "alice")
    missing = str(uuid.uuid4())
    for method, route in SESSION_ROUTES:
        theirs = _call(world, method, route.format(sid=sid), "bob")
        nothing = _call(world, method, route.format(sid=missing), "bob")
        assert theirs == nothing == (404, "session_not_found"), (method, route)
    assert _ws_close(world, sid, "bob") == _ws_close(world, missing, "bob") == 4404
    listed = world.client.get("/api/sessions", headers=world.auth("bob")).json()["sessions"]
    assert sid not in {s["session_id"] for s in listed}
    # and nothing bob did changed alice's session
    assert world.client.get(f"/api/sessions/{sid}", headers=world.auth("alice")).status_code == 200


def test_owner_and_admin_reach_everything(world: World) -> None:
    sid = _create(world, "alice")
    for who in ("alice", "root"):
        for method, route in SESSION_ROUTES[:5]:
            if route.endswith("/stream"):
                continue  # an open stream; its refusal above is what matters
            status, code = _call(world, method, route.format(sid=sid), who)
            assert status == 200, (who, route, code)
        assert _ws_close(world, sid, who) == 0
        listed = world.client.get("/api/sessions", headers=world.auth(who)).json()["sessions"]
        assert sid in {s["session_id"] for s in listed}
    assert _call(world, "POST", f"/api/sessions/{sid}/cancel", "alice")[0] == 202
    assert _call(world, "DELETE", f"/api/sessions/{sid}", "root")[0] == 204
    assert _call(world, "GET", f"/api/sessions/{sid}", "alice")[0] == 404


def test_admin_sees_every_session_users_only_their_own(world: World) -> None:
    a, b = _create(world, "alice"), _create(world, "bob")

    def listed(who: str) -> set[str]:
        body = world.client.get("/api/sessions", headers=world.auth(who)).json()
        return {s["session_id"] for s in body["sessions"]}

    assert a in listed("alice") and b not in listed("alice")
    assert b in listed("bob") and a not in listed("bob")
    assert {a, b} <= listed("root")


def test_a_revoked_or_unknown_token_is_anonymous(tmp_path: Path) -> None:
    from tk9.accounts.store import SqliteUserStore

    with accounts_world(tmp_path) as w:
        assert w.client.get("/api/sessions", headers=w.auth("alice")).status_code == 200
        store = SqliteUserStore(tmp_path / "data" / "tk9.sqlite3")
        assert store.revoke_token(w.tokens["alice"])
        store.close()
        assert w.client.get("/api/sessions", headers=w.auth("alice")).status_code == 401
        forged = {"Authorization": "Bearer tk9_" + "A" * 43}
        assert w.client.get("/api/sessions", headers=forged).status_code == 401


def test_service_wide_views_are_for_admins(world: World) -> None:
    for method, route in ADMIN_ROUTES:
        assert _call(world, method, route, "bob") == (403, "forbidden")
        assert _call(world, method, route, "root")[0] == 200
