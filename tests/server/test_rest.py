"""REST endpoints in-process: creation, snapshot, listing, files and every kind of bad input."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.support import wait_until
from tk9.events import AGENTS


def create(client: TestClient, subject: str = "Tidal power", language: str = "es") -> str:
    r = client.post("/api/sessions", json={"subject": subject, "language": language})
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    return sid


def finished(client: TestClient, sid: str) -> dict[str, object] | None:
    snap = client.get(f"/api/sessions/{sid}").json()
    return snap if snap["status"] in ("completed", "failed", "cancelled") else None


def test_create_run_and_snapshot(client: TestClient) -> None:
    sid = create(client)
    snap = wait_until(lambda: finished(client, sid), what="demo run to finish")
    assert snap["status"] == "completed"
    assert set(snap["agents"]) == {a.value for a in AGENTS}  # type: ignore[arg-type]
    assert snap["seq"] > 0 and snap["epoch"]
    assert {f["language"] for f in snap["files"]} == {"en", "es"}  # type: ignore[attr-defined]

    # the listing's status is metadata written just after the append: eventually consistent
    def listed() -> dict[str, object] | None:
        first: dict[str, object] = client.get("/api/sessions").json()["sessions"][0]
        return first if first["status"] == "completed" else None

    assert wait_until(listed, what="listing to show the run completed")["session_id"] == sid


def test_file_download_and_zip(client: TestClient) -> None:
    sid = create(client)
    snap = wait_until(lambda: finished(client, sid), what="demo run to finish")
    f = snap["files"][0]  # type: ignore[index]
    r = client.get(f["path"])
    assert r.status_code == 200
    assert len(r.content) == f["size_bytes"]
    assert "attachment" in r.headers["content-disposition"]
    assert "inline" in client.get(f["path"] + "?inline=1").headers["content-disposition"]
    z = client.get(f"/api/sessions/{sid}/files.zip")
    assert z.status_code == 200 and z.content[:2] == b"PK"


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fetc%2Fpasswd", ".hidden.md", "a%00b.md", "x.exe", "%2E%2E", "a" * 300 + ".md"],
)
def test_path_traversal_and_bad_names_are_refused(client: TestClient, name: str) -> None:
    sid = create(client)
    r = client.get(f"/api/sessions/{sid}/files/{name}")
    assert r.status_code in (404, 422)
    assert "error" in r.json() or "detail" in r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "ab", "language": "en"}, "subject"),
        ({"subject": "x" * 1001, "language": "en"}, "subject"),
        ({"subject": "x" * 30_000, "language": "en"}, "subject"),
        ({"subject": "Tidal power", "language": "klingon"}, "language"),
        ({"subject": "Tidal power", "language": "xx"}, "language"),
        ({"subject": "Tidal power"}, "language"),
        ({"subject": 5, "language": "en"}, "subject"),
        ({"subject": "Tidal power", "language": "en", "extra": 1}, "extra"),
    ],
)
def test_bad_requests_change_nothing(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    before = client.get("/api/sessions").json()
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and field in err["message"] + str(err.get("details"))
    assert client.get("/api/sessions").json() == before


def test_unknown_and_malformed_session_ids(client: TestClient) -> None:
    unknown = str(uuid.uuid4())
    for path in ("", "/events", "/cancel", "/files/x.md", "/files.zip"):
        method = "POST" if path == "/cancel" else "GET"
        assert client.request(method, f"/api/sessions/{unknown}{path}").status_code == 404
        assert client.request(method, f"/api/sessions/not-a-uuid{path}").status_code == 422


def test_forged_cursor_over_long_poll_is_a_reset(client: TestClient) -> None:
    sid = create(client, language="en")
    snap = wait_until(lambda: finished(client, sid), what="demo run to finish")
    for params in (
        {"after": "999999", "epoch": snap["epoch"]},
        {"after": "3", "epoch": "someotherepoch"},
        {"after": "-4", "epoch": snap["epoch"]},
    ):
        page = client.get(f"/api/sessions/{sid}/events", params=params).json()
        assert page["reset"]["seq"] == snap["seq"]
        assert page["events"] == []
    bad = client.get(f"/api/sessions/{sid}/events", params={"after": "abc"})
    assert bad.status_code == 422


def test_long_poll_pages_through_the_log(client: TestClient) -> None:
    sid = create(client, language="en")
    snap = wait_until(lambda: finished(client, sid), what="demo run to finish")
    seen: list[int] = []
    after = 0
    while True:
        page = client.get(
            f"/api/sessions/{sid}/events",
            params={"after": after, "epoch": snap["epoch"], "limit": 3},
        ).json()
        if not page["events"]:
            break
        seen += [e["seq"] for e in page["events"]]
        after = seen[-1]
    assert seen == list(range(1, snap["seq"] + 1))  # type: ignore[operator]


def test_health_config_metrics(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    config = client.get("/api/config").json()
    codes = {entry["code"] for entry in config["languages"]}
    assert "es" in codes and "vi" in codes
    assert "es" in config["translation_targets"]  # apertium-eng-spa is installed
    assert "en" in config["translation_targets"] and "vi" not in config["translation_targets"]
    create(client)
    text = client.get("/metrics").text
    assert "tk9_events_appended_total" in text


def test_dashboard_fallback_page(client: TestClient) -> None:
    r = client.get("/sessions/123")
    assert r.status_code == 200 and "tk9" in r.text
    assert client.get("/api/nope").status_code == 404


def test_completed_with_warnings_is_listed_with_its_warning_count(client: TestClient) -> None:
    r = client.post("/api/_test/sessions", json={"subject": "Coral reef bleaching"})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    coverage = {
        "score": 0.5,
        "phrases": [
            {"phrase": "coral reef", "score": 0.9, "covered": True},
            {"phrase": "bleaching", "score": 0.1, "covered": False},
        ],
        "sources": [{"title": "Coral reef", "uri": "wiki:coral", "relevance": 0.8, "cited": True}],
        "summary": "The sources cover 1 of 2 key phrases",
    }
    warnings = ["The sources say little about “bleaching”", "No translator for vi"]
    events = [
        {"event_type": "research_status", "payload": {"status": "running", "progress": 0}},
        {"event_type": "coverage", "payload": coverage},
        {
            "event_type": "research_status",
            "payload": {"status": "completed_with_warnings", "progress": 100, "warnings": warnings},
        },
    ]
    assert client.post(f"/api/_test/append/{sid}", json={"events": events}).status_code == 200
    snap = client.get(f"/api/sessions/{sid}").json()
    assert snap["status"] == "completed_with_warnings"
    assert snap["warnings"] == warnings and snap["coverage"] == coverage
    (item,) = [s for s in client.get("/api/sessions").json()["sessions"] if s["session_id"] == sid]
    assert item["status"] == "completed_with_warnings" and item["warning_count"] == 2
    assert item["subject"] == "Coral reef bleaching" and item["progress"] == 100


def test_a_plain_completed_run_lists_no_warnings(client: TestClient) -> None:
    sid = create(client)
    wait_until(lambda: finished(client, sid), what="demo run to finish")
    (item,) = [s for s in client.get("/api/sessions").json()["sessions"] if s["session_id"] == sid]
    assert item["status"] == "completed" and item["warning_count"] == 0
