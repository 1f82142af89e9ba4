"""Each agent can be opened: a dialog with its timings, its full message, what it logged and, for
the Browser, the sources kept and set aside; a live timeline shows the seven agents on one axis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import screenshot
from tests.browser.conftest import AGENTS, Server
from tests.browser.test_outcome import scripted_run

pytestmark = pytest.mark.browser


def test_a_real_run_has_a_timeline_and_agent_panels(
    page: Page, finished_real_run: str, tmp_path: Path
) -> None:
    lanes = page.get_by_test_id("timeline").get_by_test_id("lane")
    expect(lanes).to_have_count(len(AGENTS))
    for name in ("Orchestrator", "Browser", "Writer"):
        lane = page.locator(f"[data-testid=lane][data-agent={name}]")
        expect(lane).to_have_attribute("data-status", "completed")
        expect(lane.locator(".bar")).to_have_count(1)
        expect(lane.locator(".lane-text")).to_contain_text("→")
    orchestrator = page.locator("[data-testid=agent-card][data-agent=Orchestrator]")
    expect(orchestrator.locator("footer")).to_contain_text("100%")
    page.get_by_test_id("timeline").scroll_into_view_if_needed()
    screenshot(page, "timeline-light.png", tmp_path, full_page=False)

    # open the Writer with the keyboard; the dialog holds the focus and gives it back
    opener = page.locator("[data-testid=agent-card][data-agent=Writer] [data-testid=agent-open]")
    opener.focus()
    page.keyboard.press("Enter")
    detail = page.get_by_test_id("agent-detail")
    expect(detail).to_have_attribute("data-agent", "Writer")
    expect(page.get_by_role("dialog", name="Writer details")).to_be_focused()
    expect(detail.get_by_test_id("agent-history")).to_contain_text("Writer started")
    expect(detail.get_by_test_id("agent-history")).to_contain_text(
        re.compile(r"Writer completed in \d+\.\d s")
    )
    # what it worked on: every section it wrote, with its word count
    sections = detail.get_by_test_id("agent-sections").locator("li")
    expect(sections.first).to_have_text(re.compile(r"^Introduction · [\d,]+ words$"))
    expect(sections.last).to_have_text(re.compile(r"^Conclusion · [\d,]+ words$"))
    screenshot(page, "agent-panel-light.png", tmp_path, full_page=False)
    for _ in range(6):
        page.keyboard.press("Tab")
        inside = page.evaluate(
            "() => document.querySelector('[role=dialog]').contains(document.activeElement)"
        )
        assert inside, "Tab left the dialog"
    page.keyboard.press("Escape")
    expect(detail).to_have_count(0)
    expect(opener).to_be_focused()

    # the Editor's panel shows its outline: the report's section headings, in order
    written = [t.split(" · ")[0] for t in sections_text(page)]
    page.locator("[data-testid=agent-card][data-agent=Editor] [data-testid=agent-open]").click()
    outline = page.get_by_test_id("agent-detail").get_by_test_id("agent-outline").locator("li")
    expect(outline.first).to_be_visible()
    assert set(written[1:-1]) <= set(outline.all_inner_texts())
    page.keyboard.press("Escape")


def sections_text(page: Page) -> list[str]:
    """The Writer's sections as its panel lists them (opened and closed again)."""
    page.locator("[data-testid=agent-card][data-agent=Writer] [data-testid=agent-open]").click()
    items = page.get_by_test_id("agent-detail").get_by_test_id("agent-sections").locator("li")
    expect(items.first).to_be_visible()
    texts = items.all_inner_texts()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("agent-detail")).to_have_count(0)
    return texts


def test_the_browser_panel_lists_sources_kept_and_set_aside(
    page: Page, demo_server: Server
) -> None:
    sid = scripted_run(demo_server)
    page.goto(f"{demo_server.base_url}/sessions/{sid}")
    expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", "completed_with_warnings"
    )
    page.locator("[data-testid=lane][data-agent=Browser] button").click()
    detail = page.get_by_test_id("agent-detail")
    expect(detail).to_have_attribute("data-agent", "Browser")
    expect(detail.get_by_test_id("sources-kept").locator("li")).to_have_text(
        [re.compile("^Heat pump"), re.compile("^Refrigeration")]
    )
    expect(detail.get_by_test_id("sources-aside").locator("li")).to_have_text(
        [re.compile("^Pump .*not cited")]
    )
    detail.get_by_role("button", name="Close").click()
    expect(detail).to_have_count(0)
