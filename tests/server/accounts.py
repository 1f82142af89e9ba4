"""Shared set-up for the access tests: an app with accounts and three users with tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from tests.server.conftest import make_settings
from tk9.accounts.store import SqliteUserStore
from tk9.clock import Clock
from tk9.server.app import create_app

PASSWORD = "correct horse battery"


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    """User name -> API token: ``alice`` and ``bob`` (users), ``root`` (admin)."""

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}


def seed_users(db_path: Path) -> dict[str, str]:
    store = SqliteUserStore(db_path)
    try:
        tokens = {}
        for name, admin in (("alice", False), ("bob", False), ("root", True)):
            store.add_user(name, PASSWORD, admin=admin)
            tokens[name] = store.create_token(name)
        return tokens
    finally:
        store.close()


@contextmanager
def accounts_world(
    tmp_path: Path, clock: Clock | None = None, **settings: object
) -> Iterator[World]:
    base: dict[str, object] = {"auth": "accounts", "allowed_hosts": "testserver"}
    s = make_settings(tmp_path, **{**base, **settings})
    tokens = seed_users(s.db_path)
    with TestClient(create_app(s, clock)) as client:
        yield World(client, tokens)
