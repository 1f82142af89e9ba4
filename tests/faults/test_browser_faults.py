"""F9 in a real browser: Debian's Chromium (Playwright) opens the dashboard through nginx in
front of tk9's namespace; mid-run the tab is reloaded and nginx is restarted under it. At the
end the page must show exactly the snapshot endpoint's state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright, expect

from tests.faults.harness.report import Row, Summary
from tests.faults.harness.topology import build
from tk9.events import AGENTS

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


async def _seq(page: Page) -> int:
    value = await page.get_by_test_id("cursor").get_attribute("data-seq")
    return int(value or 0)


async def _wait_seq(page: Page, seq: int, timeout_ms: int = 60_000) -> None:
    await page.wait_for_function(
        "(seq) => Number(document.querySelector('[data-testid=cursor]')?.dataset.seq) >= seq",
        arg=seq,
        timeout=timeout_ms,
    )


async def _assert_page_is_snapshot(page: Page, snap: dict[str, Any]) -> None:
    await _wait_seq(page, int(snap["seq"]))
    await expect(page.get_by_test_id("cursor")).to_have_attribute("data-seq", str(snap["seq"]))
    await expect(page.get_by_test_id("run-status")).to_have_attribute(
        "data-status", str(snap["status"])
    )
    for name in AGENTS:
        card = page.locator(f"[data-testid=agent-card][data-agent={name.value}]")
        await expect(card).to_have_attribute("data-status", snap["agents"][name.value]["status"])
    shown = await page.get_by_test_id("file").evaluate_all("els => els.map((e) => e.dataset.name)")
    assert sorted(shown) == sorted(f["name"] for f in snap["files"])


async def test_f9_browser_reload_and_proxy_restart(summary: Summary) -> None:
    with build(env={"TK9_DEMO_EVENTS": "200", "TK9_DEMO_INTERVAL": "0.03"}) as topo:
        sid = await topo.create_session("F9 browser reload")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page()
                await page.goto(f"{topo.url}/sessions/{sid}")
                await _wait_seq(page, 20)
                await page.reload()
                await _wait_seq(page, 60)
                topo.nginx.restart()
                end = time.monotonic()
                async with httpx.AsyncClient(base_url=topo.server.url) as http:
                    while (await http.get(f"/api/sessions/{sid}")).json()["status"] in (
                        "pending",
                        "running",
                    ):
                        assert time.monotonic() - end < 60, "run did not finish"
                        await asyncio.sleep(0.2)
                    snap = (await http.get(f"/api/sessions/{sid}")).json()
                await _assert_page_is_snapshot(page, snap)
                caught_up = time.monotonic() - end
            finally:
                await browser.close()
        summary.add(
            Row(
                scenario="F9",
                fault="Chromium: reload mid-run, then nginx restart",
                events=int(snap["seq"]),
                viewers=1,
                resumes=2,
                resets=0,
                violations=0,
                catch_ups=None,
                seconds=time.monotonic() - topo.started,
            )
        )
        assert caught_up < 60
