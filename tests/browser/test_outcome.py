"""A run that completed with warnings is amber everywhere, never plain green, and says why.

The session's log is scripted through the test hooks (``POST /api/_test/sessions`` makes a
session no producer runs; ``/api/_test/append`` writes its events), so the page shows exactly
the outcome the research pipeline records for partial coverage and a missing translator.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import AGENTS, SCREENSHOTS, Server
from tests.browser.test_dashboard import assert_matches_snapshot

pytestmark = pytest.mark.browser

WARNINGS = [
    "The sources cover 1 of 3 key phrases: nothing on “defrost cycles” or “cold climates”",
    "Spanish was requested but no translator is available: the report is in English",
]
COVERAGE = {
    "score": 0.375,
    "phrases": [
        {"phrase": "heat pumps", "score": 0.75, "covered": True},
        {"phrase": "cold climates", "score": 0.25, "covered": False},
        {"phrase": "defrost cycles", "score": 0.0, "covered": False},
    ],
    "sources": [
        {"title": "Pump", "uri": "wiki:Pump", "relevance": 0.25, "cited": False},
        {"title": "Heat pump", "uri": "wiki:Heat_pump", "relevance": 0.875, "cited": True},
        {"title": "Refrigeration", "uri": "wiki:Refrigeration", "relevance": 0.5, "cited": True},
    ],
    "summary": "The sources cover 1 of 3 key phrases",
}


def _event(event_type: str, **payload: Any) -> dict[str, Any]:
    return {"event_type": event_type, "payload": payload}


def scripted_run(server: Server, docx: bytes | None = None) -> str:
    """A finished session whose log ends ``completed_with_warnings``, with one real file (two
    with ``docx``: that Word document beside the Markdown)."""
    created = httpx.post(
        f"{server.base_url}/api/_test/sessions",
        json={"subject": "Heat pumps in cold climates", "language": "es"},
        timeout=10,
    )
    created.raise_for_status()
    sid = str(created.json()["session_id"])
    data = b"# Heat pumps in cold climates\n\nA heat pump moves heat [1].\n"
    folder = server.data_dir / "outputs" / sid
    folder.mkdir(parents=True)
    (folder / "heat-pumps.md").write_bytes(data)
    events = [_event("research_status", status="running", progress=0, stage="starting")]
    for agent in AGENTS[1:]:
        if agent == "Translator":
            message = "no translator for es: the report stays in English"
            events.append(_event("agent_update", agent=agent, status="skipped", message=message))
            continue
        events.append(_event("agent_update", agent=agent, status="running", progress=0))
        events.append(_event("agent_update", agent=agent, status="completed", progress=100))
        if agent == "Writer":
            events.append(_event("log", level="warning", message=WARNINGS[0], agent=agent))
            events.append(_event("coverage", **COVERAGE))
    file_path = f"/api/sessions/{sid}/files/heat-pumps.md"
    sha = hashlib.sha256(data).hexdigest()
    events.append(
        _event("file_generated", name="heat-pumps.md", kind="md", language="en",
               size_bytes=len(data), sha256=sha, path=file_path)
    )  # fmt: skip
    if docx is not None:
        (folder / "heat-pumps.docx").write_bytes(docx)
        events.append(
            _event("file_generated", name="heat-pumps.docx", kind="docx", language="en",
                   size_bytes=len(docx), sha256=hashlib.sha256(docx).hexdigest(),
                   path=f"/api/sessions/{sid}/files/heat-pumps.docx")
        )  # fmt: skip
    events.append(_event("log", level="warning", message=WARNINGS[1], agent="Translator"))
    done = "Report published with 2 warnings"
    events.append(_event("agent_update", agent="Orchestrator", status="completed", message=done))
    events.append(
        _event("research_status", status="completed_with_warnings", progress=100,
               stage="Done, with 2 warnings", warnings=WARNINGS)
    )  # fmt: skip
    appended = httpx.post(
        f"{server.base_url}/api/_test/append/{sid}", json={"events": events}, timeout=10
    )
    appended.raise_for_status()
    return sid


def test_completed_with_warnings_is_amber_and_lists_its_warnings(
    page: Page, demo_server: Server, tmp_path: Path
) -> None:
    sid = scripted_run(demo_server)
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    badge = page.get_by_test_id("run-status")
    expect(badge).to_have_attribute("data-status", "completed_with_warnings")
    snap = assert_matches_snapshot(page, demo_server, sid)
    assert snap["warnings"] == WARNINGS and snap["coverage"] == COVERAGE

    # words and a mark, and the amber of warnings, not the green of success
    expect(badge).to_have_text("⚠Completed with warnings")
    colours = page.evaluate(
        """() => {
            const probe = (cls) => {
                const el = document.createElement('span')
                el.className = cls
                document.body.append(el)
                const colour = getComputedStyle(el).color
                el.remove()
                return colour
            }
            return {
                badge: getComputedStyle(document.querySelector('[data-testid=run-status]')).color,
                warn: probe('st-cancelled'), ok: probe('st-completed'),
            }
        }"""
    )
    assert colours["badge"] == colours["warn"] != colours["ok"], colours

    outcome = page.get_by_test_id("outcome")
    expect(outcome.get_by_role("heading")).to_have_text("⚠ Completed with warnings")
    expect(outcome.get_by_test_id("warning")).to_have_text(WARNINGS)

    coverage = page.get_by_test_id("coverage")
    expect(coverage.get_by_test_id("coverage-score")).to_have_text("38%")
    expect(coverage.get_by_test_id("phrase")).to_have_count(3)
    expect(coverage.locator("[data-testid=phrase][data-covered=false]")).to_have_count(2)
    expect(coverage.get_by_test_id("source").first).to_contain_text("Heat pump")
    expect(coverage.get_by_test_id("source").first).to_contain_text("✓ cited")
    expect(coverage.get_by_test_id("source").last).to_contain_text("not cited")

    shots = SCREENSHOTS if os.environ.get("TK9_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "session-warnings-light.png"), full_page=True)
    assert (shots / "session-warnings-light.png").stat().st_size > 10_000

    page.goto(f"{demo_server.base_url}/sessions")
    row = page.get_by_test_id("session-row").filter(has_text="Heat pumps in cold climates")
    expect(row.locator(".badge")).to_have_attribute("data-status", "completed_with_warnings")
    expect(row.locator(".badge")).to_have_text("⚠Completed with warnings")
    expect(row.get_by_test_id("warning-count")).to_have_text("· ⚠ 2 warnings")
