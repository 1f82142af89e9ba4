"""Checks over WebSocket: the upgrade, the heartbeat round trip, the proxy's idle timeout, and
a resume from an old cursor compared with the long-poll listing."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tk9.diagnose.http_checks import Chosen, Probe, list_events
from tk9.diagnose.report import CheckResult, Verdict

NO_UPGRADE_FIX = (
    "forward the upgrade on /ws/: HTTP/1.1 to the upstream plus "
    "'Upgrade: $http_upgrade' and 'Connection: upgrade' (nginx: proxy_http_version 1.1; "
    "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade)"
)


def _events_of(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an ``event`` or ``events`` frame, in order."""
    if frame.get("type") == "events":
        return list(frame.get("events", []))
    return [frame["event"]]


def _ssl(probe: Probe) -> ssl.SSLContext | None:
    if probe.target.scheme != "https":
        return None
    ctx = ssl.create_default_context()
    if not probe.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _open(probe: Probe, chosen: Chosen, after: int) -> ClientConnection:
    url = probe.target.ws(f"/ws/sessions/{chosen.session_id}?after={after}&epoch={chosen.epoch}")
    # No protocol-level pings: like a browser, only tk9's own heartbeat crosses the proxy.
    auth = probe.http.headers.get("authorization")  # the token, as on the HTTP checks
    return await connect(
        url,
        additional_headers={"Authorization": auth} if auth else None,
        ssl=_ssl(probe),
        ping_interval=None,
        open_timeout=probe.timeout,
        max_size=2**24,
        close_timeout=2,
    )


async def _recv(ws: ClientConnection, timeout: float) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    frame: dict[str, Any] = json.loads(raw)
    return frame


async def check_upgrade(probe: Probe, chosen: Chosen) -> tuple[CheckResult, dict[str, Any] | None]:
    started = time.monotonic()
    try:
        ws = await _open(probe, chosen, chosen.head)
    except InvalidStatus as exc:
        status = exc.response.status_code
        return CheckResult(
            "websocket",
            Verdict.FAIL,
            f"upgrade refused: HTTP {status} instead of 101",
            [
                "the proxy forwarded the handshake as a plain GET, so tk9 could not upgrade it"
                if status in (400, 404, 405, 426)
                else f"answer body: {exc.response.body!r:.200}",
                "the dashboard falls back to SSE / long-poll: it works, with more latency",
            ],
            fix=NO_UPGRADE_FIX,
        ), None
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        return CheckResult(
            "websocket", Verdict.FAIL, f"handshake failed: {exc!r}", fix=NO_UPGRADE_FIX
        ), None
    try:
        hello = await _recv(ws, probe.timeout)
    except (ConnectionClosed, TimeoutError) as exc:
        return CheckResult("websocket", Verdict.FAIL, f"upgraded, but no hello: {exc!r}"), None
    finally:
        await ws.close()
    if hello.get("type") != "hello":
        return CheckResult("websocket", Verdict.FAIL, f"first frame is not hello: {hello}"), None
    ms = (time.monotonic() - started) * 1000
    return CheckResult(
        "websocket",
        Verdict.PASS,
        f"101 Switching Protocols, hello in {ms:.0f} ms",
        [
            f"{probe.target.ws_base}; heartbeat every {hello['heartbeat_interval']} s, "
            f"timeout {hello['heartbeat_timeout']} s"
        ],
    ), hello


@dataclass
class Held:
    """What happened while a quiet WebSocket was held open."""

    pings: list[float] = field(default_factory=list)
    closed_after: float | None = None
    close_code: int | None = None
    close_reason: str = ""
    pong_rtt: float | None = None
    held_for: float = 0.0
    events: int = 0
    """Events that arrived meanwhile (a running session): they keep a proxy awake too."""


async def hold_quiet(probe: Probe, chosen: Chosen, seconds: float) -> Held:
    """Hold a WebSocket with no traffic but tk9's heartbeat (answered, as the dashboard does);
    measure one client ping round trip on the way."""
    held = Held()
    ws = await _open(probe, chosen, chosen.head)
    started = time.monotonic()
    ping_sent: float | None = None
    try:
        await _recv(ws, probe.timeout)  # hello
        ping_sent = time.monotonic()
        await ws.send(json.dumps({"type": "ping", "ts": ping_sent}))
        while (left := seconds - (time.monotonic() - started)) > 0:
            try:
                frame = await _recv(ws, left)
            except TimeoutError:
                break
            now = time.monotonic()
            if frame.get("type") == "ping":
                held.pings.append(now - started)
                await ws.send(json.dumps({"type": "pong", "ts": frame.get("ts")}))
            elif frame.get("type") in ("event", "events"):
                held.events += len(_events_of(frame))
            elif frame.get("type") == "pong" and ping_sent is not None:
                held.pong_rtt = now - ping_sent
                ping_sent = None
    except ConnectionClosed as exc:
        held.closed_after = time.monotonic() - started
        held.close_code = exc.rcvd.code if exc.rcvd else None
        held.close_reason = exc.rcvd.reason if exc.rcvd else "no close frame (dropped by a peer)"
    finally:
        held.held_for = time.monotonic() - started
        await ws.close()
    return held


def judge_heartbeat(held: Held, interval: float, wait: float) -> CheckResult:
    pings = ", ".join(f"{t:.1f}" for t in held.pings)
    details = [f"server pings at {pings} s" if pings else "no server ping"]
    if held.pong_rtt is not None:
        details.append(f"client ping -> server pong round trip {held.pong_rtt * 1000:.0f} ms")
    if held.pings and held.pings[0] <= interval + max(2.0, interval * 0.2):
        return CheckResult(
            "heartbeat",
            Verdict.PASS,
            f"first server ping after {held.pings[0]:.1f} s (interval {interval:g} s), answered",
            details,
        )
    if held.closed_after is not None and not held.pings:
        return CheckResult(
            "heartbeat",
            Verdict.FAIL,
            f"connection closed after {held.closed_after:.1f} s, before the first ping",
            [*details, f"close: {held.close_code} {held.close_reason}"],
            fix=f"raise the proxy's read/idle timeout above {interval:g} s (75 s recommended)",
        )
    return CheckResult(
        "heartbeat",
        Verdict.FAIL,
        f"no server ping within {wait:g} s",
        details,
        fix="a proxy or middlebox is holding frames back; check buffering",
    )


def judge_idle(held: Held, interval: float, seconds: float) -> CheckResult:
    details = [f"held {held.held_for:.1f} s quiet, {len(held.pings)} heartbeats answered"]
    if held.closed_after is None and held.events:
        return CheckResult(
            "idle-timeout",
            Verdict.WARN,
            f"connection survived {seconds:g} s, but {held.events} events kept it busy",
            details,
            fix="re-run with --session of a finished session for a truly quiet test",
        )
    if held.closed_after is None:
        return CheckResult(
            "idle-timeout",
            Verdict.PASS,
            f"quiet connection survived {seconds:g} s (> {interval:g} s heartbeat)",
            details,
        )
    details.append(f"close code {held.close_code}: {held.close_reason}")
    if held.close_code is None or held.close_code == 1006:
        summary = (
            f"the proxy cut a quiet connection after {held.closed_after:.1f} s: its idle "
            f"timeout is shorter than the {interval:g} s heartbeat"
        )
    else:
        summary = f"closed by the server after {held.closed_after:.1f} s"
    return CheckResult(
        "idle-timeout",
        Verdict.FAIL,
        summary,
        details,
        fix=f"set the proxy's read timeout well above the heartbeat (nginx: "
        f"proxy_read_timeout 75s on /ws/ and the stream route; interval {interval:g} s)",
    )


async def check_resume(probe: Probe, chosen: Chosen) -> CheckResult:
    """Replay from an old cursor over WebSocket and compare with the long-poll listing."""
    if chosen.head < 2:
        return CheckResult("resume", Verdict.SKIP, "session has fewer than 2 events")
    after = max(0, chosen.head - 200) if chosen.head > 200 else chosen.head // 2
    head = chosen.head
    replay: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(probe.timeout * 3):
            ws = await _open(probe, chosen, after)
            try:
                hello = await _recv(ws, probe.timeout)
                head = int(hello.get("head", head))
                while not replay or replay[-1]["seq"] < head:
                    frame = await _recv(ws, probe.timeout)
                    if frame.get("type") in ("event", "events"):
                        replay.extend(_events_of(frame))
                    elif frame.get("type") == "reset":
                        return CheckResult(
                            "resume",
                            Verdict.FAIL,
                            f"cursor {after} was answered with a reset "
                            f"({frame.get('reason')}) instead of a replay",
                        )
                    elif frame.get("type") == "ping":
                        await ws.send(json.dumps({"type": "pong", "ts": frame.get("ts")}))
            finally:
                await ws.close()
        listing = await list_events(probe, chosen, after, head)
    except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
        return CheckResult(
            "resume",
            Verdict.FAIL,
            f"replay from {after} broke off: {exc!r}",
            [f"{len(replay)} events replayed before"],
        )
    except ValueError as exc:
        return CheckResult("resume", Verdict.FAIL, str(exc))
    seqs = [e["seq"] for e in replay]
    expected = list(range(after + 1, head + 1))
    if seqs != expected:
        return CheckResult(
            "resume",
            Verdict.FAIL,
            "replay has gaps, duplicates or disorder",
            [f"expected {after + 1}..{head}, got {seqs[:10]}..."],
        )
    if replay != listing:
        return CheckResult(
            "resume",
            Verdict.FAIL,
            "WebSocket replay differs from the long-poll listing",
            [f"{len(replay)} replayed vs {len(listing)} listed"],
        )
    return CheckResult(
        "resume",
        Verdict.PASS,
        f"replay from cursor {after} = long-poll listing ({len(replay)} events, "
        f"seq {after + 1}..{head})",
    )
