"""The report is read in the page: citations link to the reference list, the preview dialog
keeps and returns the focus."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_outcome import scripted_run

pytestmark = pytest.mark.browser

REPORT = """# Heat pumps in cold climates

## Introduction

A heat pump moves heat [1]; defrost cycles cost energy [2].

## References

1. Heat pump — <wiki:Heat_pump>
2. Refrigeration — <wiki:Refrigeration>
"""


def test_read_the_report_and_follow_a_citation(page: Page, demo_server: Server) -> None:
    sid = scripted_run(demo_server)
    (demo_server.data_dir / "outputs" / sid / "heat-pumps.md").write_text(REPORT)
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    page.get_by_test_id("read-report").click()
    body = page.get_by_test_id("reader-body")
    expect(body).to_contain_text("A heat pump moves heat")
    cite = body.locator("a.cite", has_text="[2]")
    expect(cite).to_have_attribute("title", "Refrigeration — <wiki:Refrigeration>")
    cite.click()
    expect(body.locator("#ref-2")).to_be_focused()
    assert page.url.endswith(sid), "following a citation does not change the route"
    expect(page.get_by_test_id("reader").get_by_role("link", name="MD")).to_have_attribute(
        "href", f"/api/sessions/{sid}/files/heat-pumps.md"
    )

    preview = page.get_by_test_id("file-drawer").get_by_role("button", name="Preview")
    preview.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("link", name="Download")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(
        "() => document.querySelector('[role=dialog]').contains(document.activeElement)"
    )
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(preview).to_be_focused()
