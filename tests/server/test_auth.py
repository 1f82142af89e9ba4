"""Signing in and out, the CLI that manages accounts, and the loopback rule of TK9_AUTH=none."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from tests.server.accounts import PASSWORD, accounts_world
from tk9.accounts.store import SqliteUserStore
from tk9.cli import app
from tk9.settings import Settings


def test_login_sets_an_httponly_lax_cookie_that_works_until_logout(tmp_path: Path) -> None:
    with accounts_world(tmp_path) as w:
        c = w.client
        assert c.get("/api/auth/me").status_code == 401
        r = c.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 204
        cookie = r.headers["set-cookie"].lower()
        assert "tk9_session=tk9_" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie  # plain http here; https requests get Secure
        assert c.get("/api/auth/me").json() == {
            "username": "alice",
            "admin": False,
            "auth": "accounts",
        }
        created = c.post("/api/sessions", json={"subject": "Tidal power", "language": "en"})
        assert created.status_code == 201
        assert c.post("/api/auth/logout").status_code == 204
        assert c.get("/api/auth/me").status_code == 401
        # the server forgot the cookie too: replaying it does not sign in
        token = cookie.split("tk9_session=")[1].split(";")[0]
        replay = c.get("/api/auth/me", cookies={"tk9_session": token})
        assert replay.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "alice"},
        {"username": "alice", "password": "x" * 5000},
    ],
)
def test_bad_logins_are_refused_and_set_nothing(tmp_path: Path, body: dict[str, str]) -> None:
    with accounts_world(tmp_path) as w:
        r = w.client.post("/api/auth/login", json=body)
        assert r.status_code in (401, 422)
        assert "set-cookie" not in r.headers
        assert r.json()["error"]["code"] in ("unauthorized", "invalid_input")


def test_auth_none_is_the_local_admin_and_has_no_login(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.server.conftest import make_settings
    from tk9.server.app import create_app

    with TestClient(create_app(make_settings(tmp_path))) as c:
        assert c.get("/api/auth/me").json() == {"username": "local", "admin": True, "auth": "none"}
        assert c.post("/api/auth/login", json={"username": "a", "password": "b"}).status_code == 409


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "tk9.example.org"])
def test_auth_none_refuses_a_non_loopback_address(host: str) -> None:
    with pytest.raises(ValidationError, match="TK9_AUTH=none"):
        Settings(host=host, auth="none")
    assert Settings(host=host, auth="accounts").auth == "accounts"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_auth_none_is_fine_on_loopback(host: str) -> None:
    assert Settings(host=host).auth == "none"


def test_serve_refuses_to_start_on_a_public_address_without_accounts(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2
    assert "TK9_AUTH=none" in r.output


def test_users_and_tokens_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    added = runner.invoke(app, ["users", "add", "alice", "--admin", *data], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    again = runner.invoke(app, ["users", "add", "alice", *data], input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(app, ["users", "add", "bob", *data], input="short\n")
    assert short.exit_code == 2 and "8-1024" in short.output
    bad_name = runner.invoke(app, ["users", "add", "Bad Name", *data], input=PASSWORD + "\n")
    assert bad_name.exit_code == 2
    assert runner.invoke(app, ["users", "list", *data]).output == "alice\tadmin\n"

    token = runner.invoke(app, ["tokens", "create", "alice", *data]).output.strip()
    store = SqliteUserStore(tmp_path / "tk9.sqlite3")
    assert store.user_for_token(token, now=0) is not None
    assert runner.invoke(app, ["tokens", "create", "nobody", *data]).exit_code == 1
    assert runner.invoke(app, ["tokens", "revoke", token, *data]).exit_code == 0
    assert store.user_for_token(token, now=0) is None
    assert runner.invoke(app, ["tokens", "revoke", token, *data]).exit_code == 1

    keep = store.create_token("alice")
    assert runner.invoke(app, ["users", "remove", "alice", *data]).exit_code == 0
    assert store.user_for_token(keep, now=0) is None  # a removed user's tokens die with them
    assert runner.invoke(app, ["users", "remove", "alice", *data]).exit_code == 1
    store.close()


def test_expired_login_tokens_do_not_sign_in(tmp_path: Path) -> None:
    store = SqliteUserStore(tmp_path / "users.sqlite3")
    store.add_user("alice", PASSWORD)
    token = store.create_token("alice", "cookie", expires_at=100.0)
    assert store.user_for_token(token, now=99.0) is not None
    assert store.user_for_token(token, now=100.0) is None
    store.close()
