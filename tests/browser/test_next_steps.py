"""Every ending has a next step: read the report, retry or edit after a failure, run again after a
cancel. The failure is told once, in plain words, with the operator's hint folded away; cancelling
asks first and ends with a neutral notice, not a red toast."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import screenshot
from tests.browser.conftest import AGENTS, Server

pytestmark = pytest.mark.browser

ERROR = "Browser failed: the corpus is empty: set TK9_CORPUS_DIR (or --corpus)"


def _event(event_type: str, **payload: Any) -> dict[str, Any]:
    return {"event_type": event_type, "payload": payload}


def scripted_failure(server: Server, subject: str = "Tidal energy in estuaries") -> str:
    created = httpx.post(
        f"{server.base_url}/api/_test/sessions",
        json={"subject": subject, "language": "en"},
        timeout=10,
    )
    created.raise_for_status()
    sid = str(created.json()["session_id"])
    message = ERROR.removeprefix("Browser failed: ")
    events = [
        _event("research_status", status="running", progress=0, stage="Starting"),
        _event("agent_update", agent="Orchestrator", status="running", message="Starting"),
        _event("agent_update", agent="Browser", status="running", message="Indexing the corpus"),
        _event("error", code="research_failed", message=ERROR, agent="Browser"),
        _event("agent_update", agent="Browser", status="failed", message=message),
    ]
    for agent in AGENTS[2:]:
        events.append(_event("agent_update", agent=agent, status="skipped", message="Skipped"))
    events.append(_event("agent_update", agent="Orchestrator", status="failed", message=ERROR))
    events.append(
        _event("research_status", status="failed", progress=5, stage="Failed", error=ERROR)
    )
    appended = httpx.post(
        f"{server.base_url}/api/_test/append/{sid}", json={"events": events}, timeout=10
    )
    appended.raise_for_status()
    return sid


def test_failure_is_told_once_and_can_be_retried_or_edited(
    page: Page, demo_server: Server, tmp_path: Path
) -> None:
    sid = scripted_failure(demo_server)
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "failed")
    notice = page.get_by_test_id("failure")
    expect(notice.get_by_role("heading")).to_have_text(
        "The run stopped while finding sources (Browser): this server has no documents to"
        " research yet."
    )
    # the operator's hint is there, but folded; outside the log, the raw error shows nowhere else
    expect(notice.get_by_text("TK9_CORPUS_DIR")).not_to_be_visible()
    expect(page.locator("main p.error")).to_have_count(0)
    notice.get_by_text("Technical details").click()
    expect(notice.get_by_test_id("failure-detail")).to_contain_text("TK9_CORPUS_DIR")
    screenshot(page, "session-failed-light.png", tmp_path, full_page=False)
    cards = page.get_by_test_id("agent-card")
    expect(cards.filter(has_text="TK9_CORPUS_DIR")).to_have_count(0)

    steps = page.get_by_test_id("next-steps")
    steps.get_by_role("button", name="Edit subject and retry").click()
    expect(page).to_have_url(f"{demo_server.base_url}/")
    expect(page.get_by_label("Subject")).to_have_value("Tidal energy in estuaries")

    page.go_back()
    page.get_by_test_id("next-steps").get_by_test_id("rerun").click()
    expect(page).not_to_have_url(re.compile(re.escape(sid)))
    expect(page).to_have_url(re.compile(r"/sessions/[^/]+$"))
    expect(page.get_by_test_id("subject")).to_have_text("Tidal energy in estuaries")


def test_cancel_asks_first_and_ends_with_a_neutral_notice(page: Page, demo_server: Server) -> None:
    sid = demo_server.create("Cancel me politely")
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("cancel-confirm")).to_contain_text("Cancel this run?")
    page.get_by_role("button", name="Keep running").click()
    expect(page.get_by_test_id("cancel")).to_be_focused()
    page.get_by_test_id("cancel").click()
    page.get_by_test_id("cancel-yes").click()
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("failure").get_by_role("heading")).to_have_text(
        "You cancelled this run."
    )
    expect(page.locator(".toast-info")).to_contain_text("Research cancelled")
    expect(page.locator(".toast-error")).to_have_count(0)
    expect(page.get_by_test_id("next-steps").get_by_test_id("rerun")).to_have_text("Run again")
