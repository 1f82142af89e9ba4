"""The sessions page: text search, sort, live updates (no Refresh needed), cancel in the row,
and edit-before-re-run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import screenshot
from tests.browser.conftest import Server
from tests.browser.test_next_steps import scripted_failure

pytestmark = pytest.mark.browser


def test_search_sort_live_and_cancel_in_the_row(
    page: Page, demo_server: Server, tmp_path: Path
) -> None:
    scripted_failure(demo_server, "Zebra crossings and road safety")
    scripted_failure(demo_server, "Aardvark burrows")
    listings: list[str] = []
    page.on("request", lambda r: listings.append(r.url) if "/api/sessions?" in r.url else None)
    page.goto(demo_server.base_url + "/sessions")
    rows = page.get_by_test_id("session-row")
    expect(rows.filter(has_text="Aardvark burrows")).to_have_count(1)

    page.get_by_test_id("search").fill("zebra ROAD")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Zebra crossings and road safety")
    page.get_by_test_id("search").fill("")
    screenshot(page, "sessions-light.png", tmp_path, full_page=False)

    page.get_by_test_id("sort").select_option("subject")
    expect(rows.first).to_contain_text("Aardvark burrows")
    page.get_by_test_id("sort").select_option("newest")
    expect(rows.first).to_contain_text("Aardvark burrows")  # created last

    # a run started elsewhere appears without a reload, runs, and can be cancelled from its row
    demo_server.create("A run started in another tab")
    row = rows.filter(has_text="A run started in another tab")
    expect(row).to_have_count(1, timeout=15_000)
    expect(row.locator(".badge")).to_have_attribute("data-status", "running", timeout=15_000)
    row.get_by_test_id("cancel").click()
    row.get_by_test_id("cancel-yes").click()
    expect(row.locator(".badge")).to_have_attribute("data-status", "cancelled", timeout=15_000)
    expect(row.get_by_role("button", name="Delete")).to_be_enabled()
    # deleted elsewhere: gone from the list, still without a reload
    other = "Zebra crossings and road safety"
    other_id = rows.filter(has_text=other).get_attribute("data-session-id")
    httpx.delete(f"{demo_server.base_url}/api/sessions/{other_id}", timeout=10).raise_for_status()
    expect(rows.filter(has_text=other)).to_have_count(0, timeout=15_000)
    # pushed by the server's feed, not polled: the listing was fetched once, on load
    assert len(listings) == 1, listings

    rows.filter(has_text="Aardvark burrows").get_by_role("button", name="Edit…").click()
    expect(page).to_have_url(demo_server.base_url + "/")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Aardvark burrows")


def test_the_home_page_sets_expectations(page: Page, demo_server: Server, tmp_path: Path) -> None:
    scripted_failure(demo_server, "Recent run on the home page")
    page.goto(demo_server.base_url + "/")
    intro = page.get_by_test_id("intro")
    expect(intro.get_by_test_id("corpus")).to_contain_text("Wikipedia summaries")
    expect(intro.get_by_test_id("typical")).not_to_be_empty()
    expect(intro.get_by_test_id("recent")).to_contain_text("Recent run on the home page")
    screenshot(page, "home-light.png", tmp_path)
    example = intro.get_by_test_id("example").first
    text = example.inner_text()
    example.click()
    expect(page.get_by_label("Subject")).to_have_value(text)
    expect(page.get_by_label("Subject")).to_be_focused()
