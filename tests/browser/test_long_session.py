"""A long session in Chromium: the dashboard starts from the stored snapshot and stays small."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_dashboard import assert_matches_snapshot, wait_until_finished

pytestmark = pytest.mark.browser

EVENTS = 20_000
MAX_LOG_LINES = 500


def test_a_long_session_opens_at_its_final_state_with_a_bounded_log(
    page: Page, demo_server: Server
) -> None:
    sid = demo_server.create("A very long session")
    for start in range(0, EVENTS, 10_000):
        events = [
            {"event_type": "log", "payload": {"level": "info", "message": f"line {n}"}}
            for n in range(start, start + 10_000)
        ]
        r = httpx.post(
            f"{demo_server.base_url}/api/_test/append/{sid}", json={"events": events}, timeout=60
        )
        r.raise_for_status()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    wait_until_finished(page)
    snap = assert_matches_snapshot(page, demo_server, sid)
    assert snap["seq"] > EVENTS
    # joined from the snapshot's cursor, not from the start of the log
    assert sockets and "after=0" not in sockets[0]
    assert page.locator(".log-line").count() <= MAX_LOG_LINES
    expect(page.locator(".log-line").last).to_contain_text(snap["logs"][-1]["message"])
