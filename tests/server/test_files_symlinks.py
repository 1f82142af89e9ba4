"""Produced-file routes never follow symbolic links, and the dashboard fallback never 500s."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import wait_until


def _finished(client: TestClient) -> str:
    sid: str = client.post(
        "/api/sessions", json={"subject": "Tidal power", "language": "en"}
    ).json()["session_id"]
    wait_until(
        lambda: client.get(f"/api/sessions/{sid}").json()["status"] == "completed",
        what="demo run to finish",
    )
    return sid


def test_links_planted_in_a_session_folder_are_never_served(client: TestClient) -> None:
    sid = _finished(client)
    settings = client.app.ctx.settings  # type: ignore[attr-defined]
    folder: Path = settings.outputs_dir / sid
    secret = settings.data_dir / "secret.md"
    secret.write_text("database contents")
    os.symlink(secret, folder / "leak.md")
    os.symlink(settings.db_path, folder / "db.md")
    assert client.get(f"/api/sessions/{sid}/files/leak.md").status_code == 404
    assert client.get(f"/api/sessions/{sid}/files/db.md").status_code == 404
    z = client.get(f"/api/sessions/{sid}/files.zip")
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert names and "leak.md" not in names and "db.md" not in names


def test_a_linked_session_folder_is_not_followed(client: TestClient) -> None:
    sid = _finished(client)
    settings = client.app.ctx.settings  # type: ignore[attr-defined]
    folder: Path = settings.outputs_dir / sid
    elsewhere = settings.data_dir / "elsewhere"
    folder.rename(elsewhere)
    os.symlink(elsewhere, folder)
    assert client.get(f"/api/sessions/{sid}/files.zip").status_code == 404
    assert client.get(f"/api/sessions/{sid}/files/demo-report-en.md").status_code == 404


@pytest.mark.parametrize(
    "path", ["/a%00b", "/" + "x" * 5000, "/sessions/" + "y" * 300, "/%2e%2e/%2e%2e/etc/passwd"]
)
def test_odd_dashboard_paths_never_500(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code in (200, 404), r.text
