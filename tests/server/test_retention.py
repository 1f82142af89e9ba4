"""Retention removes sessions past TK9_RETENTION_DAYS — stream and files together — and keeps
newer ones and runs in progress. The cutoff is computed from an explicit ``now``."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.server.conftest import make_settings
from tests.support import wait_until
from tk9.clock import FakeClock
from tk9.server.app import create_app
from tk9.server.retention import DAY, sweep

SUBJECT = {"subject": "Tidal power", "language": "en"}


def test_old_sessions_go_with_their_files_new_ones_stay(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path, retention_days=7)
    app = create_app(settings, clock)
    with TestClient(app) as c:
        old = c.post("/api/sessions", json=SUBJECT).json()["session_id"]
        wait_until(
            lambda: c.get(f"/api/sessions/{old}").json()["status"] == "completed",
            what="the old run to finish",
        )
        assert (settings.outputs_dir / old).is_dir()
        clock.advance(3 * DAY)
        new = c.post("/api/sessions", json=SUBJECT).json()["session_id"]
        wait_until(
            lambda: c.get(f"/api/sessions/{new}").json()["status"] == "completed",
            what="the new run to finish",
        )
        assert c.portal is not None
        assert c.portal.call(sweep, app.ctx, clock.wall() + 5 * DAY) == [old]
        assert c.get(f"/api/sessions/{old}").status_code == 404
        assert not (settings.outputs_dir / old).exists()
        assert c.get(f"/api/sessions/{new}").status_code == 200
        assert (settings.outputs_dir / new).is_dir()
        assert c.portal.call(sweep, app.ctx, clock.wall() + 5 * DAY) == []


def test_no_retention_by_default(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as c:
        c.post("/api/sessions", json=SUBJECT)
        assert c.portal is not None
        assert c.portal.call(sweep, app.ctx, 1e12) == []
        assert len(c.get("/api/sessions").json()["sessions"]) == 1
