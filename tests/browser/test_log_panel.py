"""The live log of a real run: one chip per agent filters the lines to that agent, and what is
shown downloads as JSON or as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import assert_no_violations

pytestmark = pytest.mark.browser


def test_agent_chips_filter_the_log_and_export_downloads_what_is_shown(
    page: Page, finished_real_run: str, tmp_path: Path
) -> None:
    sid = finished_real_run
    page.get_by_test_id("log-level").select_option("debug")
    lines = page.locator(".log-lines .log-line")
    writer = page.get_by_test_id("log-chip-Writer")
    expect(writer).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("log-chip-Browser")).to_be_visible()
    everything = lines.count()

    writer.click()
    expect(writer).to_have_attribute("aria-pressed", "true")
    expect(lines.first.locator(".log-agent")).to_have_text("Writer")
    agents = lines.locator(".log-agent").all_inner_texts()
    assert agents and set(agents) == {"Writer"}
    assert lines.count() == len(agents) < everything
    assert_no_violations(page, "the log filtered by an agent")

    with page.expect_download() as got:
        page.get_by_test_id("log-export-json").click()
    download = got.value
    assert download.suggested_filename == f"tk9-log-{sid}.json"
    saved = tmp_path / "log.json"
    download.save_as(saved)
    exported = json.loads(saved.read_text())
    assert [line["agent"] for line in exported] == agents
    assert [line["seq"] for line in exported] == sorted(line["seq"] for line in exported)

    with page.expect_download() as got:
        page.get_by_test_id("log-export-text").click()
    text_file = tmp_path / "log.txt"
    got.value.save_as(text_file)
    rows = text_file.read_text().splitlines()
    assert len(rows) == len(agents)
    assert all(row.split("\t")[2] == "Writer" for row in rows)

    page.get_by_test_id("log-chip-all").click()
    expect(lines).to_have_count(everything)
