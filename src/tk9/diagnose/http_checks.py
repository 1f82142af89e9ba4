"""Checks over plain HTTP: health, the session to probe, the long-poll listing, SSE buffering."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tk9.diagnose.report import CheckResult, Verdict
from tk9.diagnose.target import Target
from tk9.events import TERMINAL_RUN_STATUSES


@dataclass
class Probe:
    """What the checks share: the target, one HTTP client, and the time limits."""

    target: Target
    http: httpx.AsyncClient
    timeout: float
    verify: bool = True


def check_target(target: Target) -> CheckResult:
    details = [f"HTTP base {target.base}", f"WebSocket base {target.ws_base}"]
    if target.is_loopback:
        return CheckResult(
            "target",
            Verdict.WARN,
            "loopback address: this does not cross your proxy",
            details,
            fix="run against the public URL the browsers use, from outside the host",
        )
    if target.scheme == "http":
        return CheckResult(
            "target",
            Verdict.WARN,
            "plain http: WebSocket goes as ws://",
            [
                *details,
                "a dashboard served over https must use wss:// (browsers block ws:// "
                "from an https page as mixed content); tk9's dashboard derives it from its origin",
            ],
            fix="serve the site over https (Caddy: put a domain in TK9_SITE_ADDRESS)",
        )
    return CheckResult("target", Verdict.PASS, "https, so the dashboard uses wss://", details)


async def check_health(probe: Probe) -> CheckResult:
    url = probe.target.http("/api/health")
    started = time.monotonic()
    try:
        resp = await probe.http.get(url, follow_redirects=False)
    except httpx.HTTPError as exc:
        return CheckResult(
            "health",
            Verdict.FAIL,
            f"cannot reach {url}: {exc!r}",
            fix="check DNS, the proxy's listen port and firewalls",
        )
    ms = (time.monotonic() - started) * 1000
    if resp.is_redirect:
        where = resp.headers.get("location", "?")
        return CheckResult(
            "health",
            Verdict.FAIL,
            f"redirected to {where}",
            fix="run diagnose against the URL the redirect points to",
        )
    body: Any = None
    if resp.headers.get("content-type", "").startswith("application/json"):
        body = resp.json()
    if isinstance(body, dict) and body.get("status") == "degraded":
        return CheckResult(
            "health",
            Verdict.FAIL,
            f"tk9 answers degraded (HTTP {resp.status_code}): {body.get('cause')}",
            [f"version {body.get('version')}, log backend {body.get('log_backend')}"],
            fix="free space or fix permissions on the data directory (TK9_DATA_DIR); "
            "runs a full disk stopped end failed once writes succeed again",
        )
    if resp.status_code != 200 or not isinstance(body, dict) or body.get("status") != "ok":
        return CheckResult(
            "health",
            Verdict.FAIL,
            f"HTTP {resp.status_code}, not tk9's health answer",
            [f"content-type {resp.headers.get('content-type')!r}", resp.text[:200]],
            fix="route /api/ (and /ws/) to tk9 in the proxy; check the tk9 container is healthy",
        )
    return CheckResult(
        "health",
        Verdict.PASS,
        f"ok in {ms:.0f} ms",
        [f"version {body.get('version')}, log backend {body.get('log_backend')}"],
    )


@dataclass
class Chosen:
    session_id: str
    epoch: str
    head: int
    finished: bool


async def choose_session(
    probe: Probe, session: str | None, create: bool
) -> tuple[CheckResult, Chosen | None]:
    """The session the stream checks use: the given one, the newest finished one, or a new one."""
    try:
        if session is None:
            listing = (await probe.http.get(probe.target.http("/api/sessions"))).json()
            done = [
                s
                for s in listing.get("sessions", [])
                if s.get("status") in {v.value for v in TERMINAL_RUN_STATUSES}
            ]
            if done:
                session = str(done[0]["session_id"])
            elif create:
                resp = await probe.http.post(
                    probe.target.http("/api/sessions"),
                    json={"subject": "tk9 diagnose probe", "language": "en"},
                )
                resp.raise_for_status()
                session = str(resp.json()["session_id"])
                await _wait_finished(probe, session, probe.timeout * 3)
            else:
                return CheckResult(
                    "session",
                    Verdict.SKIP,
                    "no finished session and --no-create",
                    fix="pass --session ID",
                ), None
        resp = await probe.http.get(probe.target.http(f"/api/sessions/{session}"))
        if resp.status_code != 200:
            return CheckResult(
                "session", Verdict.FAIL, f"GET snapshot of {session}: HTTP {resp.status_code}"
            ), None
        snap = resp.json()
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return CheckResult("session", Verdict.FAIL, f"cannot pick a session: {exc!r}"), None
    chosen = Chosen(
        session_id=session,
        epoch=str(snap["epoch"]),
        head=int(snap["seq"]),
        finished=snap["status"] in {v.value for v in TERMINAL_RUN_STATUSES},
    )
    return CheckResult(
        "session", Verdict.PASS, f"{session} ({snap['status']}, seq {chosen.head})"
    ), chosen


async def _wait_finished(probe: Probe, session: str, limit: float) -> None:
    """Give a new probe session up to ``limit`` seconds to finish, so the quiet-connection
    check is not kept alive by its events."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        snap = (await probe.http.get(probe.target.http(f"/api/sessions/{session}"))).json()
        if snap.get("status") in {v.value for v in TERMINAL_RUN_STATUSES}:
            return
        await asyncio.sleep(0.5)


async def list_events(probe: Probe, chosen: Chosen, after: int, head: int) -> list[dict[str, Any]]:
    """Every event after ``after`` up to ``head`` through the long-poll endpoint (no waiting)."""
    out: list[dict[str, Any]] = []
    cursor = after
    while cursor < head:
        resp = await probe.http.get(
            probe.target.http(f"/api/sessions/{chosen.session_id}/events"),
            params={"after": cursor, "epoch": chosen.epoch, "limit": 500, "wait": 0},
        )
        resp.raise_for_status()
        page = resp.json()
        if page.get("reset") is not None:
            raise ValueError(f"long-poll answered a reset for cursor {cursor}")
        events = [e for e in page["events"] if e["seq"] <= head]
        if not events:
            break
        out.extend(events)
        cursor = events[-1]["seq"]
    return out


async def check_sse(probe: Probe, chosen: Chosen, wait: float) -> CheckResult:
    """Does the SSE ``hello`` reach us promptly, or does the proxy hold it in a buffer?"""
    url = probe.target.http(f"/api/sessions/{chosen.session_id}/stream")
    params = {"after": str(chosen.head), "epoch": chosen.epoch}
    started = time.monotonic()
    first_byte: float | None = None
    received = b""
    headers: httpx.Headers | None = None
    try:
        async with probe.http.stream(
            "GET",
            url,
            params=params,
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(probe.timeout, read=wait),
        ) as resp:
            headers = resp.headers
            if resp.status_code != 200:
                return CheckResult("sse", Verdict.FAIL, f"HTTP {resp.status_code} on {url}")
            async for chunk in resp.aiter_bytes():
                if first_byte is None:
                    first_byte = time.monotonic() - started
                received += chunk
                if b"event: hello" in received or time.monotonic() - started > wait:
                    break
    except httpx.ReadTimeout:
        pass
    except httpx.HTTPError as exc:
        return CheckResult("sse", Verdict.FAIL, f"stream request failed: {exc!r}")
    details: list[str] = []
    if headers is not None:
        details.append(
            f"content-type {headers.get('content-type')!r}, "
            f"content-encoding {headers.get('content-encoding')!r}"
        )
    if b"event: hello" in received and first_byte is not None:
        details.insert(0, f"first byte after {first_byte * 1000:.0f} ms")
        if headers is not None and headers.get("content-encoding"):
            return CheckResult(
                "sse",
                Verdict.WARN,
                "hello arrived, but the stream is compressed",
                details,
                fix="do not compress text/event-stream (nginx: gzip off on the stream route)",
            )
        return CheckResult("sse", Verdict.PASS, "hello arrived unbuffered", details)
    details.insert(
        0,
        f"{len(received)} bytes in {wait:.1f} s"
        + (f" (first after {first_byte:.1f} s)" if first_byte else ""),
    )
    return CheckResult(
        "sse",
        Verdict.FAIL,
        "SSE is buffered by the proxy: the hello never came through",
        details,
        fix="turn response buffering and compression off for /api/sessions/*/stream "
        "(nginx: proxy_buffering off; gzip off; do not ignore X-Accel-Buffering)",
    )
