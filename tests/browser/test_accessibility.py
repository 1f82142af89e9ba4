"""Every page, light and dark, with axe-core (0 violations of any impact); page titles follow the
route and the run's status; navigating moves the focus to the new page; a favicon is served; the
first load says "Connecting…", never "Reconnecting…"."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.a11y import assert_no_violations
from tests.browser.conftest import Server
from tests.browser.test_next_steps import scripted_failure
from tests.browser.test_outcome import scripted_run
from tk9.research.publish import parse, to_docx

pytestmark = pytest.mark.browser


@pytest.fixture(params=["light", "dark"])
def themed_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme=request.param, reduced_motion="reduce"
    )
    yield context.new_page()
    context.close()


def test_every_page_has_no_axe_violations(themed_page: Page, demo_server: Server) -> None:
    page = themed_page
    base = demo_server.base_url
    warned = scripted_run(
        demo_server, docx=to_docx(parse("# Heat pumps\n\nA heat pump.\n"), "Heat")
    )
    failed = scripted_failure(demo_server)

    page.goto(base + "/")
    expect(page.get_by_label("Report language")).to_be_enabled()
    assert_no_violations(page, "the new-research form")

    page.goto(base + "/sessions")
    expect(page.get_by_test_id("session-row").first).to_be_visible()
    assert_no_violations(page, "the sessions page")

    page.goto(f"{base}/sessions/{warned}")
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "completed_with_warnings"
    )
    assert_no_violations(page, "a run completed with warnings")
    page.locator("[data-testid=lane][data-agent=Browser] button").click()
    expect(page.get_by_test_id("agent-detail")).to_be_visible()
    assert_no_violations(page, "the agent panel")
    page.keyboard.press("Escape")
    page.get_by_test_id("read-report").click()
    expect(page.get_by_test_id("reader-body")).to_contain_text("A heat pump moves heat")
    assert_no_violations(page, "the report reader")
    page.locator("[data-testid=reader-format][data-format=docx]").click()
    expect(page.get_by_test_id("reader-body")).to_have_attribute("data-format", "docx")
    expect(page.get_by_test_id("reader-body")).to_contain_text("A heat pump.")
    assert_no_violations(page, "the report reader showing the Word version")
    page.locator("[data-testid=reader-format][data-format=md]").click()
    expect(page.get_by_test_id("reader-body")).to_contain_text("A heat pump moves heat")
    page.get_by_test_id("file-drawer").get_by_role("button", name="Preview").first.click()
    expect(page.get_by_role("dialog")).to_contain_text("A heat pump moves heat")
    assert_no_violations(page, "the file preview")
    page.keyboard.press("Escape")

    page.goto(f"{base}/sessions/{failed}")
    expect(page.get_by_test_id("failure")).to_be_visible()
    assert_no_violations(page, "a failed run")

    running = demo_server.create("Accessibility while running")
    page.goto(f"{base}/sessions/{running}")
    expect(page.locator("[data-testid=agent-card][data-status=running]").first).to_be_visible()
    assert_no_violations(page, "a running session")

    page.goto(base + "/no/such/page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert_no_violations(page, "the not-found page")


def test_titles_focus_favicon_and_first_load(page: Page, demo_server: Server) -> None:
    base = demo_server.base_url
    sid = scripted_run(demo_server)
    states: list[str] = []
    page.expose_function("recordConnection", lambda text: states.append(text))
    page.add_init_script(
        """new MutationObserver(() => {
            const c = document.querySelector('[data-testid=connection]')
            if (c) window.recordConnection(c.textContent.trim())
        }).observe(document, { subtree: true, childList: true, characterData: true })"""
    )
    page.goto(base + "/")
    expect(page).to_have_title("New research — tk9")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sessions").click()
    expect(page).to_have_title("Sessions — tk9")
    expect(page.locator("#main")).to_be_focused()

    page.goto(f"{base}/sessions/{sid}")
    expect(page).to_have_title("⚠ Completed with warnings · Heat pumps in cold climates — tk9")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    assert "Reconnecting…" not in states and "Live" in states, states
    # the stream position is there for whoever debugs, folded away
    expect(page.get_by_test_id("cursor")).not_to_be_visible()
    page.get_by_text("Details", exact=True).click()
    expect(page.get_by_test_id("cursor")).to_be_visible()

    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon
    served = httpx.get(base + icon, timeout=10)
    assert served.status_code == 200 and "svg" in served.headers["content-type"]
    assert httpx.get(base + "/favicon.ico", timeout=10).status_code == 404


def test_a_run_started_and_read_with_the_keyboard_only(page: Page, demo_server: Server) -> None:
    page.goto(demo_server.base_url + "/")
    expect(page.get_by_label("Report language")).to_be_enabled()
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # brand
    page.keyboard.press("Tab")  # New research
    page.keyboard.press("Tab")  # Sessions
    page.keyboard.press("Tab")
    expect(page.get_by_label("Subject", exact=True)).to_be_focused()
    page.keyboard.type("Keyboard only research")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Report language")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Start research")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("subject")).to_have_text("Keyboard only research")
    expect(page.locator("#main")).to_be_focused()
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "completed", timeout=60_000
    )
    steps = page.get_by_test_id("next-steps")
    steps.get_by_role("link", name="New research").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_title("New research — tk9")


def test_the_phone_layout_does_not_scroll_sideways(browser: Browser, demo_server: Server) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, reduced_motion="reduce"
    )
    page = context.new_page()
    try:
        sid = scripted_run(demo_server)
        for path in ("/", "/sessions", f"/sessions/{sid}"):
            page.goto(demo_server.base_url + path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.wait_for_load_state("networkidle")
            wide = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert wide <= 0, f"{path} scrolls sideways by {wide}px on a phone"
        name = page.get_by_test_id("file").first.locator(".fname")
        box = name.bounding_box()
        assert box and box["width"] > 250, "a file name gets a line of its own on a phone"
        assert_no_violations(page, "a session on a phone")
    finally:
        context.close()
