"""The seed's scenario through the containers: tk9 + Caddy from deploy/compose.yaml, a Spanish
research submitted in Chromium through Caddy and followed live to the end over one WebSocket
(seven cards, every file, no reload); every file downloads through Caddy; the ONNX model cache
lands in the data volume; ``tk9 diagnose`` against the Caddy URL passes."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (  # noqa: F401  (fixtures)
    Server,
    browser,
    page,
    playwright_instance,
)
from tests.browser.test_dashboard import assert_matches_snapshot, submit_research
from tests.browser.test_dashboard import wait_until_finished as _wait_until_finished
from tests.docker.harness import Engine, Stack, stack
from tk9.diagnose import Verdict, run_diagnosis

RUN_TIMEOUT_MS = 300_000
"""A cold container builds its corpus index and ONNX graph on the first run (2 shared cores)."""


@pytest.fixture(scope="module")
def seed(engine: Engine, compose: str, figures: dict[str, object]) -> Iterator[Stack]:
    with stack(engine, compose, "seed") as s:
        started = time.monotonic()
        s.run("up", "-d", "--no-build")
        s.wait_healthy("tk9")
        figures["cold_start_to_healthy_s"] = round(time.monotonic() - started, 1)
        s.wait_http(s.caddy_url)
        yield s


def wait_until_finished(tab: Page) -> None:
    tab.wait_for_function(
        """() => {
            const run = document.querySelector('[data-testid=run-status]')
            const cards = [...document.querySelectorAll('[data-testid=agent-card]')]
            return run && ['completed', 'completed_with_warnings', 'failed', 'interrupted']
                .includes(run.dataset.status) && cards.length === 7
        }""",
        timeout=RUN_TIMEOUT_MS,
    )
    _wait_until_finished(tab)


def test_browser_full_run_through_caddy(
    page: Page,  # noqa: F811
    seed: Stack,
    figures: dict[str, object],
) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    server = Server(seed.caddy_url, Path("/nonexistent"))
    started = time.monotonic()
    sid = submit_research(page, server, "Volcanoes of Japan", "es")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    wait_until_finished(page)
    figures["spanish_run_through_caddy_s"] = round(time.monotonic() - started, 1)
    snap = assert_matches_snapshot(page, server, sid)
    assert snap["status"] == "completed", snap["error"]
    assert {a["status"] for a in snap["agents"].values()} == {"completed"}
    assert {(f["language"], f["kind"]) for f in snap["files"]} == {
        (lang, kind) for lang in ("en", "es") for kind in ("md", "pdf", "docx")
    }
    assert len(sockets) == 1, f"one WebSocket carried the whole run: {sockets}"
    assert sockets[0].startswith(f"ws://127.0.0.1:{seed.caddy_port}/")
    assert len(loads) == 1, f"the form loaded once, then no reload: {loads}"

    # every file, through Caddy, is what its kind says
    with httpx.Client(base_url=seed.caddy_url, timeout=30) as http:
        for f in snap["files"]:
            body = http.get(f"/api/sessions/{sid}/files/{f['name']}").raise_for_status().content
            assert body, f["name"]
            if f["kind"] == "pdf":
                assert body.startswith(b"%PDF"), f["name"]
            elif f["kind"] == "docx":
                assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(body)).namelist()
            else:
                assert body.decode().lstrip().startswith("#"), f["name"]
        archive = http.get(f"/api/sessions/{sid}/files.zip").raise_for_status().content
        assert len(zipfile.ZipFile(io.BytesIO(archive)).namelist()) == len(snap["files"])


def test_data_volume_holds_log_reports_and_model_cache(seed: Stack) -> None:
    container = seed.container("tk9")
    mounts = seed.engine.inspect(container)["Mounts"]
    assert isinstance(mounts, list)
    data = [m for m in mounts if m["Destination"] == "/data"]
    assert data and data[0]["Type"] == "volume", mounts
    listing = seed.engine.docker("exec", container, "find", "/data", "-maxdepth", "2").stdout
    assert "/data/tk9.sqlite3" in listing or ".sqlite3" in listing, listing
    probe = "import importlib.util as u; print(u.find_spec('tk9.research.embedding') is not None)"
    if seed.engine.docker("exec", container, "python", "-c", probe).stdout.strip() == "True":
        models = seed.engine.docker("exec", container, "ls", "/data/models").stdout
        assert ".onnx" in models, f"no ONNX model cache in the data volume: {listing}"


def test_diagnose_through_caddy_passes(seed: Stack) -> None:
    # in a thread of its own: Playwright's sync API holds this module's event loop
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(
            asyncio.run,
            run_diagnosis(
                seed.caddy_url, idle_wait=3.0, heartbeat_wait=3.0, sse_wait=2.0, timeout=10
            ),
        ).result()
    failed = [r.name for r in report.results if r.verdict is Verdict.FAIL]
    assert failed == [], report.render()
