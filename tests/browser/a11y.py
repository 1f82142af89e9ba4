"""axe-core, injected into the page by Playwright: every rule, every impact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.browser.conftest import FRONTEND, ROOT

SCREENSHOTS = ROOT / "docs" / "screenshots"

AXE = FRONTEND / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe on the page as it is now; the violations, each reduced to what a failure needs."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol, which the page's CSP (script-src 'self', no
        # inline script) does not govern; a <script> tag would be refused by that CSP
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, { resultTypes: ['violations'] })
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5)
                    .map((n) => n.target.join(' ') + ' :: ' + n.failureSummary),
            }))
        }"""
    )
    return result


def assert_no_violations(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {where}: " + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n  " + "\n  ".join(v["nodes"]) for v in violations
    )


def screenshot(page: Page, name: str, scratch: Path, full_page: bool = True) -> None:
    """Into docs/screenshots when ``TK9_UPDATE_SCREENSHOTS=1``, else into ``scratch`` (a test
    run leaves the tree clean)."""
    shots = SCREENSHOTS if os.environ.get("TK9_UPDATE_SCREENSHOTS") == "1" else scratch
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / name), full_page=full_page)
    assert (shots / name).stat().st_size > 5_000
