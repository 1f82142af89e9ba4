"""``tk9 users add`` against a Redis deployment signs in on a web node using that Redis.

The CLI runs with its own (empty) data directory and the server with another, so the only
thing they share is the Redis: the user cannot have come through a SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.log.redis_server import RedisServer
from tests.server.conftest import make_settings
from tk9.cli import app
from tk9.server.app import create_app

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.redis


def test_a_user_added_by_the_cli_logs_in_on_a_server_sharing_the_redis(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_server.flush()
    monkeypatch.setenv("TK9_LOG_BACKEND", "redis")
    monkeypatch.setenv("TK9_REDIS_URL", redis_server.url)
    cli_dir = tmp_path / "cli-data"
    runner = CliRunner()
    added = runner.invoke(
        app, ["users", "add", "alice", "--data-dir", str(cli_dir)], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    token = runner.invoke(app, ["tokens", "create", "alice", "--data-dir", str(cli_dir)])
    assert token.exit_code == 0, token.output
    assert not (cli_dir / "tk9.sqlite3").exists()  # nothing went to a local SQLite file

    settings = make_settings(
        tmp_path / "node",
        log_backend="redis",
        redis_url=redis_server.url,
        auth="accounts",
        allowed_hosts="testserver",
    )
    with TestClient(create_app(settings)) as client:
        bearer = {"Authorization": f"Bearer {token.output.strip()}"}
        assert client.get("/api/auth/me", headers=bearer).json()["username"] == "alice"
        login = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 204, login.text
        assert client.get("/api/auth/me").json() == {
            "username": "alice",
            "admin": False,
            "auth": "accounts",
        }
        # removed through the CLI, the user is gone for the server at once: login and token
        removed = runner.invoke(app, ["users", "remove", "alice", "--data-dir", str(cli_dir)])
        assert removed.exit_code == 0, removed.output
        assert client.get("/api/auth/me").status_code == 401
        assert client.get("/api/auth/me", headers=bearer).status_code == 401
    assert not (settings.data_dir / "tk9.sqlite3").exists()


def test_a_lost_redis_answers_503_at_the_access_gate_not_500(tmp_path: Path) -> None:
    own = RedisServer(tmp_path)  # this test stops it: not the shared one
    try:
        settings = make_settings(
            tmp_path / "node",
            log_backend="redis",
            redis_url=own.url,
            auth="accounts",
            allowed_hosts="testserver",
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            assert client.get("/api/auth/me").status_code == 401  # no token: no lookup
            own.stop()
            r = client.get("/api/auth/me", headers={"Authorization": "Bearer tk9_" + "a" * 43})
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "unavailable"
            assert r.json()["error"]["retryable"] is True
    finally:
        own.stop()
