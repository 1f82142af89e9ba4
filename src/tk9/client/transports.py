"""One connection of a :class:`~tk9.client.session.SessionFollower`, per transport.

Each function opens one connection from the follower's cursor, feeds what arrives to the pure
:class:`~tk9.protocol.follower.Follower`, performs its actions and yields the updates to apply.
It ends by raising :class:`Closed` with a WebSocket-style close code (HTTP failures are mapped
onto the same codes, so one reconnect policy covers every transport) or :class:`Switched`
when the caller asked for another transport. Resuming is the caller's job.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

import httpx
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tk9.clock import Clock
from tk9.errors import CloseCode
from tk9.events import Event
from tk9.protocol.follower import Action, Apply, Follower, Replace, Resume, SendAck, SendPong
from tk9.protocol.messages import SERVER_FRAME, EventsPage, Hello, Reset
from tk9.state import SessionState

T = TypeVar("T")

ABNORMAL = 1006
"""Close code used when a connection just broke (no close frame), as browsers do."""
PROTOCOL_ERROR = 1002
"""The server (or a proxy in front of it) sent something that is not the protocol: retry."""


@dataclass(frozen=True, slots=True)
class Applied:
    """An event applied in order (exactly the next seq)."""

    event: Event


@dataclass(frozen=True, slots=True)
class Replaced:
    """The server reset the stream: the state is now ``snapshot``."""

    snapshot: SessionState
    reason: str


Update = Applied | Replaced


class Closed(Exception):
    """The connection ended; ``code`` decides whether to reconnect."""

    def __init__(self, code: int, reason: str = "", *, ws_refused: bool = False) -> None:
        super().__init__(f"closed with {code} {reason}".strip())
        self.code = code
        self.reason = reason
        self.ws_refused = ws_refused
        """The WebSocket upgrade was answered with plain HTTP: tk9 always accepts an upgrade
        (an unknown session is a 4404 close after it), so something on the path — a proxy
        without WebSocket support — refused it."""


class Switched(Exception):
    """The caller asked for another transport; reconnect at once, without backoff."""


def close_code_for_status(status: int) -> int:
    """The close code an HTTP status stands for (for the reconnect policy)."""
    if status == 404:
        return int(CloseCode.SESSION_NOT_FOUND)
    if status == 422:
        return int(CloseCode.BAD_CURSOR)
    if 400 <= status < 500 and status not in (408, 429):
        return int(CloseCode.MALFORMED_FRAME)
    return int(CloseCode.TRY_AGAIN_LATER)


@dataclass
class Link:
    """What every transport needs: where, who, the pure state, the clock, the switch signal."""

    base_url: str
    session_id: str
    follower: Follower
    clock: Clock
    switch: asyncio.Event
    http: httpx.AsyncClient
    poll_wait: float = 25.0
    open_timeout: float = 10.0
    stop_when_finished: bool = True

    def query(self) -> dict[str, str]:
        cursor = self.follower.cursor
        params = {"after": str(cursor.seq)}
        if cursor.epoch is not None:
            params["epoch"] = cursor.epoch
        return params

    def now(self) -> float:
        return self.clock.monotonic()

    async def race(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Await ``awaitable`` unless the switch fires first (raises :class:`Switched`).

        Raises :class:`TimeoutError` after ``timeout`` seconds (``awaitable`` is cancelled).
        """
        task = asyncio.ensure_future(awaitable)
        switch = asyncio.ensure_future(self.switch.wait())
        try:
            done, _ = await asyncio.wait(
                {task, switch}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            switch.cancel()
        if task in done:
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if switch in done:
            raise Switched
        raise TimeoutError


def _updates(actions: list[Action]) -> tuple[list[Update], list[Action]]:
    """Split actions into updates for the caller and the control actions the driver performs."""
    updates: list[Update] = []
    control: list[Action] = []
    for action in actions:
        if isinstance(action, Apply):
            updates.append(Applied(action.event))
        elif isinstance(action, Replace):
            updates.append(Replaced(action.snapshot, action.reason))
        else:
            control.append(action)
    return updates, control


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


async def run_ws(link: Link) -> AsyncGenerator[Update]:
    """One WebSocket connection. The follower's watchdog replaces websockets' own keepalive."""
    follower = link.follower
    try:
        ws = await link.race(
            connect(
                ws_url(link.base_url, link.session_id, link.query()),
                ping_interval=None,
                open_timeout=link.open_timeout,
                close_timeout=1.0,
                max_size=16 * 1024 * 1024,
                compression=None,
            )
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise Closed(
            int(CloseCode.TRY_AGAIN_LATER),
            f"WebSocket upgrade refused with HTTP {status}",
            ws_refused=True,
        ) from exc
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise Closed(ABNORMAL, f"cannot connect: {exc}") from exc
    async with ws:
        follower.on_connect(link.now())
        try:
            while True:
                try:
                    raw = await link.race(ws.recv(), follower.next_deadline(link.now()))
                except TimeoutError:
                    actions = follower.tick(link.now())
                else:
                    try:
                        frame = SERVER_FRAME.validate_json(raw)
                    except ValueError as exc:
                        raise Closed(PROTOCOL_ERROR, "malformed frame from the server") from exc
                    actions = follower.on_frame(frame, link.now())
                updates, control = _updates(actions)
                for update in updates:
                    yield update
                for action in control:
                    if isinstance(action, SendPong):
                        await ws.send(json.dumps({"type": "pong", "ts": action.ts}))
                    elif isinstance(action, SendAck):
                        await ws.send(json.dumps({"type": "ack", "seq": action.seq}))
                    elif isinstance(action, Resume):
                        raise Closed(ABNORMAL, f"resume: {action.reason}")
                if link.stop_when_finished and follower.finished:
                    ack = follower.ack_now(link.now())
                    if ack is not None:
                        await ws.send(json.dumps({"type": "ack", "seq": ack.seq}))
                    return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL
            reason = exc.rcvd.reason if exc.rcvd is not None else "connection lost"
            raise Closed(code, reason) from exc


def parse_sse_reset(data: str) -> tuple[str, SessionState]:
    """An SSE ``reset`` message: a whole ``Reset`` frame, or (as first drafted) a bare snapshot."""
    raw = json.loads(data)
    if isinstance(raw, dict) and raw.get("type") == "reset":
        frame = Reset.model_validate(raw)
        return frame.reason, frame.snapshot
    return "reset", SessionState.model_validate(raw)


async def run_sse(link: Link) -> AsyncGenerator[Update]:
    """One SSE stream. httpx's read timeout (2.5 heartbeats) is the watchdog here, because
    keep-alive comments never reach the SSE decoder; SSE has no upstream, so no acks."""
    follower = link.follower
    timeout = httpx.Timeout(link.open_timeout, read=follower.stale_after)
    url = f"{_http_base(link.base_url)}/api/sessions/{link.session_id}/stream"
    try:
        async with aconnect_sse(
            link.http, "GET", url, params=link.query(), timeout=timeout
        ) as source:
            if source.response.status_code != 200:
                await source.response.aread()
                raise Closed(close_code_for_status(source.response.status_code), "HTTP error")
            follower.on_connect(link.now())
            messages = source.aiter_sse().__aiter__()
            while True:
                try:
                    message = await link.race(messages.__anext__())
                except StopAsyncIteration:
                    raise Closed(int(CloseCode.NORMAL), "stream ended") from None
                now = link.now()
                try:
                    if message.event == "hello":
                        follower.on_hello(Hello.model_validate_json(message.data), now)
                        actions: list[Action] = []
                    elif message.event == "event":
                        actions = follower.on_event(Event.model_validate_json(message.data), now)
                    elif message.event == "reset":
                        reason, snapshot = parse_sse_reset(message.data)
                        actions = follower.on_reset(snapshot, now, reason)
                    else:
                        continue
                except ValueError as exc:
                    raise Closed(PROTOCOL_ERROR, "malformed message from the server") from exc
                updates, control = _updates(actions)
                for update in updates:
                    yield update
                for action in control:
                    if isinstance(action, Resume):
                        raise Closed(ABNORMAL, f"resume: {action.reason}")
                if link.stop_when_finished and follower.finished:
                    return
    except httpx.TransportError as exc:
        raise Closed(ABNORMAL, f"{type(exc).__name__}: {exc}") from exc


async def run_poll(link: Link) -> AsyncGenerator[Update]:
    """Long-poll: ask for the events after the cursor, waiting up to ``poll_wait`` for new ones."""
    follower = link.follower
    url = f"{_http_base(link.base_url)}/api/sessions/{link.session_id}/events"
    timeout = httpx.Timeout(link.open_timeout, read=link.poll_wait + link.open_timeout)
    follower.on_connect(link.now())
    while True:
        params = {**link.query(), "limit": "500", "wait": f"{link.poll_wait:g}"}
        try:
            response = await link.race(link.http.get(url, params=params, timeout=timeout))
        except httpx.TransportError as exc:
            raise Closed(ABNORMAL, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise Closed(close_code_for_status(response.status_code), "HTTP error")
        try:
            page = EventsPage.model_validate_json(response.content)
        except ValueError as exc:
            raise Closed(PROTOCOL_ERROR, "malformed page from the server") from exc
        updates, control = _updates(follower.on_page(page, link.now()))
        for update in updates:
            yield update
        for action in control:
            if isinstance(action, Resume):
                raise Closed(ABNORMAL, f"resume: {action.reason}")
        if link.stop_when_finished and follower.finished:
            return
