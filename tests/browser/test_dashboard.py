"""The dashboard end to end: Chromium against a real ``tk9 serve``.

After every scenario the page must equal the snapshot endpoint: the same seq, every agent's
status, and every file exactly once in the drawer — with no reload unless the test reloads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    AGENTS,
    RUN_TIMEOUT_MS,
    SCREENSHOTS,
    Server,
    wait_until_finished,
)

pytestmark = pytest.mark.browser


def wait_for_seq(page: Page, seq: int) -> None:
    page.wait_for_function(
        "(seq) => Number(document.querySelector('[data-testid=cursor]')?.dataset.seq) >= seq",
        arg=seq,
        timeout=RUN_TIMEOUT_MS,
    )


def assert_matches_snapshot(page: Page, server: Server, session_id: str) -> dict[str, Any]:
    snap = server.snapshot(session_id)
    # the page keeps streaming: wait for it to reach the snapshot's cursor, then compare
    wait_for_seq(page, int(snap["seq"]))
    expect(page.get_by_test_id("cursor")).to_have_attribute("data-seq", str(snap["seq"]))
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", str(snap["status"]))
    agents: dict[str, dict[str, Any]] = snap["agents"]
    for name in AGENTS:
        card = page.locator(f"[data-testid=agent-card][data-agent={name}]")
        expect(card).to_have_attribute("data-status", agents[name]["status"])
    shown = page.get_by_test_id("file").evaluate_all("els => els.map((e) => e.dataset.name)")
    files: list[dict[str, Any]] = snap["files"]
    assert sorted(shown) == sorted(f["name"] for f in files)
    assert len(shown) == len(set(shown)), f"a file shows twice: {shown}"
    return snap


def submit_research(page: Page, server: Server, subject: str, language: str) -> str:
    page.goto(server.base_url + "/")
    page.get_by_label("Subject").fill(subject)
    expect(page.locator("#subject-count")).to_contain_text(f"{len(subject)} / 1000")
    page.get_by_label("Report language").select_option(language)
    page.get_by_role("button", name="Start research").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def test_form_run_goes_live_to_the_end(page: Page, research_server: Server, tmp_path: Path) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    sid = submit_research(page, research_server, "Volcanoes of Japan", "es")
    expect(page.get_by_test_id("subject")).to_have_text("Volcanoes of Japan")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    wait_until_finished(page)
    snap = assert_matches_snapshot(page, research_server, sid)
    assert snap["status"] == "completed", snap["error"]
    assert {(f["language"], f["kind"]) for f in snap["files"]} == {
        (lang, kind) for lang in ("en", "es") for kind in ("md", "pdf", "docx")
    }
    assert {a["status"] for a in snap["agents"].values()} == {"completed"}
    assert len(sockets) == 1, "one WebSocket carried the whole run"
    expect(page.get_by_test_id("toast").first).to_contain_text("Research finished")

    # Markdown preview: rendered (sanitised) in a dialog, closed with Escape
    md = next(f["name"] for f in snap["files"] if f["kind"] == "md")
    page.locator(f"[data-testid=file][data-name='{md}']").get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".markdown h1").first).to_be_visible()
    assert dialog.locator(".markdown script").count() == 0
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # docs/screenshots is refreshed only on request, so a test run leaves the tree clean
    shots = SCREENSHOTS if os.environ.get("TK9_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "session-light.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(shots / "session-dark.png"), full_page=True)
    assert (shots / "session-dark.png").stat().st_size > 10_000


def test_reload_mid_run_shows_the_same_state(page: Page, demo_server: Server) -> None:
    sid = submit_research(page, demo_server, "Reload in the middle", "en")
    wait_for_seq(page, 8)
    before = int(page.get_by_test_id("cursor").get_attribute("data-seq") or 0)
    assert page.get_by_test_id("run-status").get_attribute("data-status") == "running"
    page.reload()
    # the snapshot paints at once: never behind what the page showed before the reload
    wait_for_seq(page, before)
    wait_until_finished(page)
    assert_matches_snapshot(page, demo_server, sid)


@pytest.mark.parametrize("close_code", [1011, 1000, 1012])
def test_server_cuts_the_websocket_mid_run(
    page: Page, demo_server: Server, close_code: int
) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    sid = demo_server.create(f"Cut with {close_code}")
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    for seq in (6, 20):
        wait_for_seq(page, seq)
        assert demo_server.drop_connections(close_code) >= 1
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    wait_until_finished(page)
    assert_matches_snapshot(page, demo_server, sid)
    assert len(sockets) >= 3, f"expected reconnects, saw {sockets}"
    assert all("after=" in url for url in sockets[1:])


@pytest.mark.parametrize(("forced", "label"), [("sse", "SSE"), ("poll", "long-poll")])
def test_forced_fallback_finishes_the_run(
    page: Page, demo_server: Server, forced: str, label: str
) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    sid = demo_server.create(f"Forced {forced}")
    page.goto(f"{demo_server.base_url}/sessions/{sid}?transport={forced}")
    connection = page.get_by_test_id("connection")
    expect(connection).to_have_attribute("data-state", "fallback")
    expect(connection).to_contain_text(label)
    wait_for_seq(page, 10)
    assert demo_server.drop_connections(1011) >= 0  # SSE is dropped too; long-poll has nothing
    wait_until_finished(page)
    assert_matches_snapshot(page, demo_server, sid)
    assert sockets == []


def test_deep_link_and_history(page: Page, demo_server: Server) -> None:
    sid = demo_server.create("Deep link <b>not bold</b>")
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    wait_until_finished(page)
    # subject is text, never HTML
    expect(page.get_by_test_id("subject")).to_have_text("Deep link <b>not bold</b>")
    page.goto(f"{demo_server.base_url}/sessions")
    row = page.get_by_test_id("session-row").filter(has_text="Deep link")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Open").click()
    page.wait_for_url(f"**/sessions/{sid}")
    assert_matches_snapshot(page, demo_server, sid)


def set_visibility(page: Page, state: str) -> None:
    """What the browser does when a tab goes to the background or comes back."""
    page.evaluate(
        """(state) => {
            Object.defineProperty(document, 'visibilityState', {value: state, configurable: true})
            document.dispatchEvent(new Event('visibilitychange'))
        }""",
        state,
    )


def test_machine_sleep_then_wake_catches_up(page: Page, demo_server: Server) -> None:
    """F9: the laptop sleeps mid-run (network gone, tab hidden, clock jumps two minutes), then
    wakes: the page reconnects at once from its cursor and ends equal to the snapshot."""
    page.clock.install()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    sid = demo_server.create("Sleep in the middle")
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    wait_for_seq(page, 6)

    page.context.set_offline(True)
    set_visibility(page, "hidden")
    page.clock.fast_forward("02:00")  # two minutes of sleep: every timer is overdue at once
    page.context.set_offline(False)
    set_visibility(page, "visible")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    wait_until_finished(page)
    assert_matches_snapshot(page, demo_server, sid)
    assert len(sockets) >= 2, "the page reconnected after waking"
    assert all("after=" in url for url in sockets[1:])
