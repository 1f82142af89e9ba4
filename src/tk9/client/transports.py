"""One connection of a :class:`~tk9.client.session.SessionFollower`, per transport.

Each function opens one connection from the follower's cursor, feeds what arrives to the pure
:class:`~tk9.protocol.follower.Follower`, performs its actions and yields the updates to apply.
It ends by raising :class:`Closed` with a WebSocket-style close code (HTTP failures are mapped
onto the same codes, so one reconnect policy covers every transport), :class:`Switched`
when the caller asked for another transport, or :class:`Handover` when it opened a replacement
for a silent connection. Resuming is the caller's job.

WebSocket and SSE opens are hedged (:mod:`tk9.client.hedge`), and a connection silent past
:meth:`~tk9.protocol.follower.Follower.probe_due` gets a replacement opened beside it; see the
follower's module docstring for why and what it costs the server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from httpx_sse import EventSource
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tk9.client.hedge import hedged
from tk9.client.link import (
    ABNORMAL,
    CLOSE_TIMEOUT,
    PROTOCOL_ERROR,
    Closed,
    Handover,
    Link,
    Prober,
    Update,
    close_code_for_status,
    close_opened,
    drop_task,
    split_actions,
)
from tk9.errors import CloseCode
from tk9.events import Event
from tk9.protocol.follower import Action, Follower, Resume, SendAck, SendPong
from tk9.protocol.messages import SERVER_FRAME, EventsFrame, EventsPage, Hello, Reset
from tk9.state import SessionState

T = TypeVar("T")


def _http_base(base_url: str) -> str:
    return base_url.rstrip("/")


def ws_url(base_url: str, session_id: str, params: dict[str, str]) -> str:
    """``ws(s)://host/ws/sessions/{id}?after=..&epoch=..`` from an ``http(s)://`` base URL."""
    base = _http_base(base_url)
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return f"{base}/ws/sessions/{session_id}?{urlencode(params)}"


async def _open_ws_once(link: Link) -> ClientConnection:
    auth = link.http.headers.get("authorization")  # the token, as on every HTTP request
    return await connect(
        ws_url(link.base_url, link.session_id, link.query()),
        additional_headers={"Authorization": auth} if auth else None,
        ping_interval=None,
        open_timeout=link.open_timeout,
        close_timeout=CLOSE_TIMEOUT,
        max_size=16 * 1024 * 1024,
        compression=None,
    )


async def _open_hedged(link: Link, once: Callable[[Link], Awaitable[T]]) -> T:
    """``once(link)`` attempts, staggered by the follower's policy (:mod:`tk9.client.hedge`)."""
    follower = link.follower
    return await hedged(
        lambda: once(link),
        delay=follower.hedge_delay,
        limit=follower.policy.max_open_attempts,
        budget=link.open_timeout,
        discard=close_opened,
    )


async def open_ws(link: Link) -> ClientConnection:
    """Open a WebSocket from the cursor, hedged."""
    return await _open_hedged(link, _open_ws_once)


def upgrade_refused(status: int) -> bool:
    """An upgrade answered with plain HTTP ``status`` means WebSocket cannot pass the path.

    A 5xx (the proxy could not reach tk9: 502, 504), 408 or 429 is the server being away or
    busy, not WebSocket being blocked: retry the WebSocket with the backoff instead of moving
    to SSE for good."""
    return status < 500 and status not in (408, 429)


async def run_ws(link: Link) -> AsyncGenerator[Update]:
    """One WebSocket connection. The follower's watchdog replaces websockets' own keepalive."""
    follower = link.follower
    try:
        if link.preopened is not None:
            ws, link.preopened = link.preopened, None
        else:
            ws = await link.race(open_ws(link))
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise Closed(
            int(CloseCode.TRY_AGAIN_LATER),
            f"WebSocket upgrade refused with HTTP {status}",
            ws_refused=upgrade_refused(status),
        ) from exc
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise Closed(ABNORMAL, f"cannot connect: {exc}") from exc
    prober = Prober(link, open_ws)
    async with ws:
        follower.on_connect(link.now())
        try:
            while True:
                deadline = follower.next_deadline(link.now())
                try:
                    raw = await link.race(ws.recv(), prober.timeout(deadline))
                except TimeoutError:
                    actions = follower.tick(link.now())
                    try:
                        prober.check()
                    except Handover:
                        ws.transport.abort()  # the old one is silent: no close handshake
                        raise
                else:
                    await prober.alive()
                    try:
                        frame = SERVER_FRAME.validate_json(raw)
                    except ValueError as exc:
                        raise Closed(PROTOCOL_ERROR, "malformed frame from the server") from exc
                    actions = follower.on_frame(frame, link.now())
                updates, control = split_actions(actions)
                for update in updates:
                    yield update
                for action in control:
                    if isinstance(action, SendPong):
                        await ws.send(json.dumps({"type": "pong", "ts": action.ts}))
                    elif isinstance(action, SendAck):
                        await ws.send(json.dumps({"type": "ack", "seq": action.seq}))
                    elif isinstance(action, Resume):
                        if action.reason == "stale":
                            # presumed dead: a close handshake would wait close_timeout on it
                            ws.transport.abort()
                        raise Closed(ABNORMAL, f"resume: {action.reason}", resume=action.reason)
                if link.stop_when_finished and follower.finished:
                    ack = follower.ack_now(link.now())
                    if ack is not None:
                        await ws.send(json.dumps({"type": "ack", "seq": ack.seq}))
                    return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL
            reason = exc.rcvd.reason if exc.rcvd is not None else "connection lost"
            raise Closed(code, reason) from exc
        finally:
            await prober.alive()


def parse_sse_reset(data: str) -> tuple[str, SessionState]:
    """An SSE ``reset`` message: a whole ``Reset`` frame, or (as first drafted) a bare snapshot."""
    raw = json.loads(data)
    if isinstance(raw, dict) and raw.get("type") == "reset":
        frame = Reset.model_validate(raw)
        return frame.reason, frame.snapshot
    return "reset", SessionState.model_validate(raw)


def on_events(follower: Follower, data: str, now: float) -> list[Action]:
    """An SSE ``events`` message (the WebSocket ``events`` frame): its events applied one by
    one, exactly like ``event`` messages, stopping at a gap."""
    actions: list[Action] = []
    for event in EventsFrame.model_validate_json(data).events:
        step = follower.on_event(event, now)
        actions.extend(step)
        if any(isinstance(a, Resume) for a in step):
            break
    return actions


async def _open_sse_once(link: Link) -> httpx.Response:
    timeout = httpx.Timeout(link.open_timeout, read=link.follower.stale_after)
    url = f"{_http_base(link.base_url)}/api/sessions/{link.session_id}/stream"
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
    request = link.http.build_request(
        "GET", url, params=link.query(), headers=headers, timeout=timeout
    )
    response = await link.http.send(request, stream=True)
    if response.status_code != 200:
        await response.aclose()
        raise StreamRefused(response.status_code)
    return response


class StreamRefused(Exception):
    """The SSE request was answered with HTTP ``status``: an answer, but not a stream (a
    failed attempt for :func:`~tk9.client.hedge.hedged`, so a sibling may still open)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


async def open_sse(link: Link) -> httpx.Response:
    """Open an SSE stream from the cursor (response headers in), hedged like WebSocket."""
    return await _open_hedged(link, _open_sse_once)


async def run_sse(link: Link) -> AsyncGenerator[Update]:
    """One SSE stream. httpx's read timeout (stale bound) is the last-resort watchdog; the
    server's ``ping`` keepalives reset the follower's silence; SSE has no upstream, so no acks."""
    follower = link.follower
    try:
        if link.preopened is not None:
            response, link.preopened = link.preopened, None
        else:
            response = await link.race(open_sse(link))
    except StreamRefused as exc:
        raise Closed(close_code_for_status(exc.status), "HTTP error") from exc
    except httpx.TransportError as exc:
        raise Closed(ABNORMAL, f"{type(exc).__name__}: {exc}") from exc
    prober = Prober(link, open_sse)
    try:
        follower.on_connect(link.now())
        messages = EventSource(response).aiter_sse().__aiter__()
        next_message: asyncio.Future[Any] | None = None
        try:
            while True:
                if next_message is None:
                    next_message = asyncio.ensure_future(messages.__anext__())
                deadline = follower.next_deadline(link.now())
                try:
                    message = await link.race(
                        asyncio.shield(next_message), prober.timeout(deadline)
                    )
                except StopAsyncIteration:
                    raise Closed(int(CloseCode.NORMAL), "stream ended") from None
                except TimeoutError:
                    prober.check()
                    continue
                next_message = None
                await prober.alive()
                now = link.now()
                try:
                    if message.event == "hello":
                        follower.on_hello(Hello.model_validate_json(message.data), now)
                        actions: list[Action] = []
                    elif message.event == "event":
                        actions = follower.on_event(Event.model_validate_json(message.data), now)
                    elif message.event == "events":  # several: the WebSocket ``events`` frame
                        actions = on_events(follower, message.data, now)
                    elif message.event == "reset":
                        reason, snapshot = parse_sse_reset(message.data)
                        actions = follower.on_reset(snapshot, now, reason)
                    else:
                        follower.on_alive(now)
                        continue
                except ValueError as exc:
                    raise Closed(PROTOCOL_ERROR, "malformed message from the server") from exc
                updates, control = split_actions(actions)
                for update in updates:
                    yield update
                for action in control:
                    if isinstance(action, Resume):
                        raise Closed(ABNORMAL, f"resume: {action.reason}", resume=action.reason)
                if link.stop_when_finished and follower.finished:
                    return
        finally:
            if next_message is not None:
                await drop_task(next_message)
            with suppress(Exception):
                await messages.aclose()  # type: ignore[attr-defined]
            await prober.alive()
    except httpx.TransportError as exc:
        raise Closed(ABNORMAL, f"{type(exc).__name__}: {exc}") from exc
    finally:
        await response.aclose()


async def run_poll(link: Link) -> AsyncGenerator[Update]:
    """Long-poll: ask for the events after the cursor, waiting for new ones up to ``poll_wait``
    and at most one heartbeat interval — so, like a stream, a request silent past ``wait +
    hedge_delay`` is suspect (a lost packet in TCP backoff) and gets a fresh one beside it."""
    follower = link.follower
    url = f"{_http_base(link.base_url)}/api/sessions/{link.session_id}/events"
    wait = min(link.poll_wait, follower.heartbeat_interval)
    timeout = httpx.Timeout(link.open_timeout, read=wait + link.open_timeout)
    follower.on_connect(link.now())
    while True:
        params = {**link.query(), "limit": "500", "wait": f"{wait:g}"}
        request = hedged(
            lambda: link.http.get(url, params=params, timeout=timeout),  # noqa: B023
            delay=follower.hedge_delay,
            first_delay=wait + follower.hedge_delay,
            limit=follower.policy.max_open_attempts,
            budget=wait + link.open_timeout,
            discard=close_opened,
        )
        try:
            response = await link.race(request)
        except httpx.TransportError as exc:
            raise Closed(ABNORMAL, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise Closed(close_code_for_status(response.status_code), "HTTP error")
        try:
            page = EventsPage.model_validate_json(response.content)
        except ValueError as exc:
            raise Closed(PROTOCOL_ERROR, "malformed page from the server") from exc
        updates, control = split_actions(follower.on_page(page, link.now()))
        for update in updates:
            yield update
        for action in control:
            if isinstance(action, Resume):
                raise Closed(ABNORMAL, f"resume: {action.reason}", resume=action.reason)
        if link.stop_when_finished and follower.finished:
            return
