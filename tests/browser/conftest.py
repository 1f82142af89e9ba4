"""Fixtures for the dashboard's browser tests: a real ``tk9 serve`` and Debian's Chromium.

Each server runs in its own temporary data directory on a free port, with the test hooks on
(``POST /api/_test/drop-connections`` cuts every live stream from the server side). The built
dashboard (``frontend/dist``) is required; it is built here when missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tk9.events import TERMINAL_RUN_STATUSES, AgentName
from tk9.projection import FINAL_AGENT_STATUSES

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
SCREENSHOTS = ROOT / "docs" / "screenshots"
AGENTS = [name.value for name in AgentName]
FINAL_AGENT = {status.value for status in FINAL_AGENT_STATUSES}
TERMINAL_RUN = sorted(status.value for status in TERMINAL_RUN_STATUSES)
RUN_TIMEOUT_MS = 120_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass(frozen=True)
class Server:
    base_url: str
    data_dir: Path

    def snapshot(self, session_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.base_url}/api/sessions/{session_id}", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def create(self, subject: str, language: str = "en") -> str:
        response = httpx.post(
            f"{self.base_url}/api/sessions",
            json={"subject": subject, "language": language},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["session_id"])

    def drop_connections(self, code: int) -> int:
        response = httpx.post(
            f"{self.base_url}/api/_test/drop-connections", params={"code": code}, timeout=10
        )
        response.raise_for_status()
        return int(response.json()["dropped"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_built() -> None:
    if (FRONTEND / "dist" / "index.html").is_file():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed to build the dashboard for the browser tests"
    if not (FRONTEND / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


def _serve(tmp: Path, extra_env: dict[str, str]) -> Iterator[Server]:
    _ensure_built()
    port = _free_port()
    data_dir = tmp / "data"
    env = {
        **os.environ,
        "TK9_TEST_HOOKS": "1",
        "TK9_LOG_LEVEL": "warning",
        **extra_env,
    }
    tk9 = Path(sys.executable).with_name("tk9")
    log = (tmp / "server.log").open("w")
    argv = [str(tk9), "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*argv, "--data-dir", str(data_dir)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"tk9 serve exited: {(tmp / 'server.log').read_text()}"
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tk9 serve did not become healthy in 60 s"
            time.sleep(0.1)
        yield Server(base, data_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def research_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real research pipeline behind POST /api/sessions."""
    yield from _serve(tmp_path_factory.mktemp("tk9-research"), {})


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The scripted producer, paced so that a run lasts long enough to disturb it mid-way."""
    env = {"TK9_DEMO_PRODUCER": "1", "TK9_DEMO_INTERVAL": "0.15", "TK9_DEMO_EVENTS": "40"}
    yield from _serve(tmp_path_factory.mktemp("tk9-demo"), env)


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is started, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, color_scheme="light", reduced_motion="reduce"
    )
    p = context.new_page()
    yield p
    context.close()


def wait_until_finished(page: Page) -> None:
    """Wait (bounded) until the run is terminal and all seven cards are final."""
    page.wait_for_function(
        """([terminal, final]) => {
            const run = document.querySelector('[data-testid=run-status]')
            const cards = [...document.querySelectorAll('[data-testid=agent-card]')]
            return run && terminal.includes(run.dataset.status) && cards.length === 7
                && cards.every((c) => final.includes(c.dataset.status))
        }""",
        arg=[TERMINAL_RUN, sorted(FINAL_AGENT)],
        timeout=RUN_TIMEOUT_MS,
    )


@pytest.fixture
def finished_real_run(page: Page, research_server: Server) -> str:
    """A run of the real pipeline, opened in ``page`` and followed live to its end; its id."""
    sid = research_server.create("photosynthesis in plants")
    page.goto(f"{research_server.base_url}/sessions/{sid}")
    wait_until_finished(page)
    return sid
