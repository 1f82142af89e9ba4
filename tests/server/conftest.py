from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tk9.server.app import create_app
from tk9.settings import Settings


def make_settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "log_backend": "sqlite",
        "demo_producer": True,
        "demo_interval": 0.0,
        "test_hooks": True,
        "static_dir": tmp_path / "no-dashboard",
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The ASGI app in-process (lifespan included), demo producer, SQLite log."""
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c
