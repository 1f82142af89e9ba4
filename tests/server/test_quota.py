"""Per-user quotas: runs per 24 hours (429 + Retry-After) and disk used by a user's files (403),
counted from the log; nothing created when refused. Time is a FakeClock: nothing sleeps."""

from __future__ import annotations

from pathlib import Path

from tests.server.accounts import World, accounts_world
from tests.support import wait_until
from tk9.clock import FakeClock

SUBJECT = {"subject": "Tidal power", "language": "en"}
ROOMY = {"user_create_burst": 100, "user_max_active_runs": 100}


def _post(world: World, who: str) -> tuple[int, dict[str, object], str | None]:
    r = world.client.post("/api/sessions", json=SUBJECT, headers=world.auth(who))
    return r.status_code, r.json(), r.headers.get("retry-after")


def _count(world: World, who: str) -> int:
    body = world.client.get("/api/sessions", headers=world.auth(who)).json()
    return len(body["sessions"])


def test_runs_per_day(tmp_path: Path) -> None:
    clock = FakeClock()
    with accounts_world(tmp_path, clock, user_runs_per_day=2, **ROOMY) as w:
        assert _post(w, "alice")[0] == 201
        clock.advance(3600)
        assert _post(w, "alice")[0] == 201
        status, body, retry = _post(w, "alice")
        assert status == 429 and retry == str(23 * 3600)  # the first run turns a day old then
        assert body["error"]["code"] == "daily_quota"  # type: ignore[index]
        assert "last 24 hours" in body["error"]["message"]  # type: ignore[index]
        assert _count(w, "alice") == 2
        assert _post(w, "bob")[0] == 201  # his own quota
        assert _post(w, "root")[0] == 201  # admins have none
        clock.advance(23 * 3600)
        assert _post(w, "alice")[0] == 201
        assert _post(w, "alice")[0] == 429


def test_storage_quota(tmp_path: Path) -> None:
    with accounts_world(tmp_path, user_storage_mb=0.00005, **ROOMY) as w:  # ~52 bytes
        status, body, _ = _post(w, "alice")
        assert status == 201
        sid = body["session_id"]
        snapshot = f"/api/sessions/{sid}"
        wait_until(
            lambda: w.client.get(snapshot, headers=w.auth("alice")).json()["status"] == "completed",
            what="the demo run wrote its files",
        )
        status, body, _ = _post(w, "alice")
        assert status == 403
        assert body["error"]["code"] == "storage_quota"  # type: ignore[index]
        assert "delete old sessions" in body["error"]["message"]  # type: ignore[index]
        assert _count(w, "alice") == 1
        assert _post(w, "bob")[0] == 201
        assert w.client.delete(snapshot, headers=w.auth("alice")).status_code == 204
        assert _post(w, "alice")[0] == 201
