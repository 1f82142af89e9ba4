"""Signing in to the dashboard with TK9_AUTH=accounts, in Chromium against a real server.

A signed-out visitor lands on the login page and, once signed in, on the page they asked for;
the session page then streams live over the cookie-authenticated WebSocket, and the sessions
page lists only their sessions, live. The whole visit runs under the server's
Content-Security-Policy: the browser must report no violation. The login page passes axe in
light and dark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.a11y import assert_no_violations
from tests.browser.conftest import Server, _serve
from tests.server.accounts import PASSWORD, seed_users

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("tk9-accounts")
    tokens = seed_users(tmp / "data" / "tk9.sqlite3")
    env = {"TK9_AUTH": "accounts", "TK9_DEMO_PRODUCER": "1", "TK9_DEMO_INTERVAL": "0.02"}
    for server in _serve(tmp, env):
        yield server, tokens


def test_sign_in_then_follow_a_session_live(
    page: Page, secured: tuple[Server, dict[str, str]]
) -> None:
    server, tokens = secured
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    created = httpx.post(
        f"{server.base_url}/api/sessions",
        json={"subject": "Tidal power", "language": "en"},
        headers={"Authorization": f"Bearer {tokens['alice']}"},
        timeout=10,
    )
    sid = created.json()["session_id"]

    page.goto(f"{server.base_url}/sessions/{sid}")
    expect(page).to_have_url(f"{server.base_url}/login?next=/sessions/{sid}")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.base_url}/sessions/{sid}")
    status = page.locator("[data-testid=run-status]")
    expect(status).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.get_by_text("alice", exact=True)).to_be_visible()

    # her sessions page is live too (the feed sends her cookie's listing, and only hers)
    page.get_by_role("link", name="Sessions").click()
    rows = page.get_by_test_id("session-row")
    expect(rows).to_have_count(1)
    later = httpx.post(
        f"{server.base_url}/api/sessions",
        json={"subject": "Wave power", "language": "en"},
        headers={"Authorization": f"Bearer {tokens['alice']}"},
        timeout=10,
    )
    later.raise_for_status()
    expect(rows.filter(has_text="Wave power")).to_have_count(1, timeout=15_000)
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "tk9_session"] == [True]

    # bob's session is not alice's: not listed, and the page shows it as missing
    other = httpx.post(
        f"{server.base_url}/api/sessions",
        json={"subject": "Wind power", "language": "en"},
        headers={"Authorization": f"Bearer {tokens['bob']}"},
        timeout=10,
    ).json()["session_id"]
    response = page.request.get(f"{server.base_url}/api/sessions/{other}")
    assert response.status == 404
    httpx.post(
        f"{server.base_url}/api/sessions",
        json={"subject": "Solar power", "language": "en"},
        headers={"Authorization": f"Bearer {tokens['alice']}"},
        timeout=10,
    ).raise_for_status()
    expect(rows.filter(has_text="Solar power")).to_have_count(1, timeout=15_000)  # after bob's
    expect(rows.filter(has_text="Wind power")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.base_url}/login")
    assert page.request.get(f"{server.base_url}/api/sessions").status == 401
    assert violations == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_login_page_has_no_axe_violations(
    browser: Browser, secured: tuple[Server, dict[str, str]], scheme: Literal["light", "dark"]
) -> None:
    server, _ = secured
    context = browser.new_context(color_scheme=scheme, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{server.base_url}/sessions")
        expect(page).to_have_url(f"{server.base_url}/login?next=/sessions")
        expect(page.get_by_label("User name")).to_be_visible()
        assert_no_violations(page, f"the login page ({scheme})")
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
        assert_no_violations(page, f"the login page with its error ({scheme})")
    finally:
        context.close()
