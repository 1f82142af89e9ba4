"""The report is read in the page: citations link to the reference list, the preview dialog
keeps and returns the focus, and the Word version reads in the page and in the preview."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import assert_no_violations
from tests.browser.conftest import Server
from tests.browser.test_outcome import scripted_run
from tk9.research.publish import parse, to_docx

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


def test_the_word_version_reads_in_the_reader_and_the_preview(
    page: Page, demo_server: Server
) -> None:
    docx = to_docx(parse(REPORT), "Heat pumps in cold climates")  # the publisher's own writer
    sid = scripted_run(demo_server, docx=docx)
    (demo_server.data_dir / "outputs" / sid / "heat-pumps.md").write_text(REPORT)
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    csp: list[str] = []  # the converter must run under the server's Content-Security-Policy
    page.on(
        "console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    page.get_by_test_id("read-report").click()
    body = page.get_by_test_id("reader-body")
    expect(body).to_have_attribute("data-format", "md")
    expect(body).to_contain_text("A heat pump moves heat")
    assert not any("mammoth" in url for url in scripts), "the DOCX converter loads on demand"

    word = page.locator("[data-testid=reader-format][data-format=docx]")
    expect(word).to_have_text("Word (DOCX)")
    word.click()
    expect(word).to_have_attribute("aria-pressed", "true")
    expect(body).to_have_attribute("data-format", "docx")
    expect(body.get_by_role("heading", name="Introduction")).to_be_visible()
    expect(body).to_contain_text("defrost cycles cost energy [2]")
    expect(body.locator("ol li")).to_have_count(2)
    assert any("mammoth" in url for url in scripts)
    expect(page.get_by_test_id("reader").get_by_role("link", name="DOCX")).to_have_attribute(
        "href", f"/api/sessions/{sid}/files/heat-pumps.docx"
    )
    assert_no_violations(page, "the reader showing the Word version")
    page.locator("[data-testid=reader-format][data-format=md]").click()
    expect(body.locator("a.cite")).to_have_count(2)

    drawer = page.get_by_test_id("file-drawer")
    drawer.locator("li", has_text="heat-pumps.docx").get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview-body")
    expect(preview.get_by_role("heading", name="Introduction")).to_be_visible()
    assert_no_violations(page, "the preview of a Word document")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert csp == []
