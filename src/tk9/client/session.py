"""``SessionFollower``: follow one session's event stream, surviving any disconnect.

Iterating a follower yields :class:`~tk9.client.link.Applied` (one event, exactly the
next seq) and :class:`~tk9.client.link.Replaced` (the server reset the stream to a
snapshot). Every connection starts from the follower's cursor, so a dropped connection, a
server restart or a transport switch never loses, repeats or reorders an event::

    async with SessionFollower("http://127.0.0.1:8000", session_id) as follower:
        async for update in follower:
            ...

The connection protocol is the pure :class:`~tk9.protocol.follower.Follower`; this module only
opens connections, waits the reconnect delay it decides, and stops on a terminal close code
(raising :class:`StreamClosed` or :class:`~tk9.errors.SessionNotFound`) or, when
``stop_when_finished``, once the run reached a terminal status and every announced event is in.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, suppress
from dataclasses import replace
from types import TracebackType
from typing import Literal

import httpx

from tk9.client.http import auth_headers
from tk9.client.link import Closed, Handover, Link, Switched, Update, close_opened
from tk9.client.transports import open_ws, run_poll, run_sse, run_ws
from tk9.clock import Clock, SystemClock
from tk9.errors import CloseCode, SessionNotFound, Tk9Error, Unauthorized
from tk9.events import RunStatus
from tk9.protocol.cursor import Cursor
from tk9.protocol.follower import Follower, FollowerPolicy
from tk9.protocol.ladder import (
    Connect,
    GiveUp,
    Ladder,
    LadderAction,
    LadderPolicy,
    Probe,
    Wait,
)

Transport = Literal["ws", "sse", "poll"]
TRANSPORTS: tuple[Transport, ...] = ("ws", "sse", "poll")

_RUNNERS: dict[Transport, Callable[[Link], AsyncGenerator[Update]]] = {
    "ws": run_ws,
    "sse": run_sse,
    "poll": run_poll,
}


class StreamClosed(Tk9Error):
    """The server closed the stream with a terminal code: reconnecting would not help."""

    code = "stream_closed"

    def __init__(self, message: str, close_code: int) -> None:
        super().__init__(message, close_code=close_code)
        self.close_code = close_code


class SessionFollower:
    """Follow ``session_id`` on ``base_url`` from cursor ``(epoch, after)``.

    ``transport`` is ``"ws"``, ``"sse"`` or ``"poll"`` and can be changed while iterating with
    :meth:`switch_transport` (which pins it); the cursor carries over. With ``transport="ws"``
    and ``fallback`` (the defaults) the follower climbs the fallback ladder of
    :mod:`tk9.protocol.ladder`, the browser's too: a WebSocket upgrade answered with plain HTTP
    (a proxy without WebSocket) moves it to SSE at once, three WebSocket failures in a row too,
    two SSE failures to long-poll, and a WebSocket probe beside the fallback brings it back
    (a 5xx answer to the upgrade is the server being away, not WebSocket being blocked, and
    counts as an ordinary failure). ``"sse"``, ``"poll"`` or ``fallback=False`` pin the
    transport; ``ladder`` changes its numbers (by default its backoff is ``policy``'s).
    ``policy`` sets ack batching, the reconnect
    backoff and the fast-recovery rules: hedged opens and a replacement opened beside a silent
    connection (:mod:`tk9.protocol.follower` explains both and what they cost a server);
    ``token`` (an API token from ``tk9 tokens create``) is sent as ``Authorization: Bearer`` on
    every transport; with your own ``http`` client, put that header on it instead. ``trace``
    receives a line per connection step (opens, closes, backoffs, probes) for diagnosis;
    ``random`` and ``clock`` are injectable for tests. ``status`` is the run status of the state
    the cursor points at (a snapshot's), so a follower that starts from the snapshot of a
    finished run stops at once instead of waiting for a terminal event that is already in.
    """

    def __init__(
        self,
        base_url: str,
        session_id: str,
        transport: Transport = "ws",
        after: int = 0,
        epoch: str | None = None,
        *,
        status: RunStatus | None = None,
        stop_when_finished: bool = True,
        fallback: bool = True,
        policy: FollowerPolicy | None = None,
        ladder: LadderPolicy | None = None,
        poll_wait: float = 25.0,
        clock: Clock | None = None,
        random: Callable[[], float] = _random.random,
        http: httpx.AsyncClient | None = None,
        trace: Callable[[str], None] | None = None,
        token: str | None = None,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        self.base_url = base_url
        self.session_id = session_id
        self._transport: Transport = transport
        self._follower = Follower(after=after, epoch=epoch, policy=policy, random=random)
        follower_policy = self._follower.policy
        if ladder is None:
            ladder = LadderPolicy(
                backoff_base=follower_policy.backoff_base, backoff_cap=follower_policy.backoff_cap
            )
        self._ladder = Ladder(
            "auto" if transport == "ws" and fallback else transport, ladder, random=random
        )
        self._requested: Transport | None = None
        """The transport :meth:`switch_transport` asked for, until the loop takes it."""
        self._promoted: object = None
        """A WebSocket probe that opened beside a fallback, until the loop takes it over."""
        self._follower.status = status
        self._clock = clock or SystemClock()
        self._switch = asyncio.Event()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(headers=auth_headers(token))
        self._stop_when_finished = stop_when_finished
        self._poll_wait = poll_wait
        self._fallback = fallback
        self.connections = 0
        """Connections opened so far (the first one included)."""
        self.last_close: Closed | None = None
        self._trace = trace

    # --- state -------------------------------------------------------------------------------

    @property
    def cursor(self) -> Cursor:
        """Everything up to ``cursor.seq`` of stream ``cursor.epoch`` has been yielded."""
        return self._follower.cursor

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def finished(self) -> bool:
        return self._follower.finished

    @property
    def duplicates(self) -> int:
        """Events received more than once and dropped (at-least-once delivery at work)."""
        return self._follower.duplicates

    def switch_transport(self, transport: Transport) -> None:
        """Drop the current connection and continue on ``transport`` from the same cursor."""
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}")
        self._requested = transport
        self._switch.set()

    # --- iteration -----------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Update]:
        return self.updates()

    async def updates(self) -> AsyncGenerator[Update]:
        """Applied events and resets, in order, across reconnects, until finished or closed.

        The transport and every reconnect are the ladder's decisions (:mod:`tk9.protocol.ladder`,
        the same as the browser's): backoff after failures, WebSocket → SSE → long-poll, and a
        WebSocket probe beside a fallback that takes over once it opens. A connection that went
        silent is replaced by one opened beside it (``Handover``): nothing failed, so the
        ladder is not told."""
        ladder = self._ladder
        actions: list[LadderAction] = ladder.start(self._now())
        preopened: object = None
        preopened_for: Transport | None = None
        while True:
            connect = await self._next_connect(actions)
            actions = []
            if preopened is not None and connect.transport != preopened_for:
                await close_opened(preopened)  # switched meanwhile: not for this transport
                preopened = None
            self._transport = connect.transport
            self._switch.clear()
            reused = ", already open" if preopened is not None else ""
            link = self._link(preopened)
            preopened = None
            self.connections += 1
            greetings = self._follower.greetings
            self._note(
                f"open {self._transport} after={self._follower.cursor.seq}"
                f" ({connect.reason}{reused})"
            )
            probing = asyncio.ensure_future(self._probe_loop(link)) if ladder.on_fallback else None
            try:
                async with aclosing(_RUNNERS[self._transport](link)) as stream:
                    async for update in stream:
                        if self._follower.greetings > greetings:
                            ladder.opened(self._now())
                        yield update
                return  # the run is finished and everything is in
            except Switched:
                if self._promoted is not None:
                    self._note("probe: WebSocket is back, leaving the fallback")
                    preopened, self._promoted = self._promoted, None
                    preopened_for = "ws"
                    actions = [Connect("ws", "resume")]
                else:
                    requested, self._requested = self._requested, None
                    actions = ladder.use(self._now(), requested or self._transport)
                continue
            except Handover as handover:
                self._note("handover to a connection opened beside the silent one")
                preopened, preopened_for = handover.opened, self._transport
                actions = [Connect(self._transport, "resume")]
                continue
            except Closed as closed:
                self.last_close = closed
                self._note(f"closed {closed.code} {closed.reason}")
                now = self._now()
                if self._follower.greetings > greetings:
                    ladder.opened(now)
                if closed.resume == "stale":
                    actions = ladder.stale(now)
                elif closed.resume is not None:
                    actions = ladder.resume(now)
                else:
                    refused = closed.ws_refused and self._fallback
                    actions = ladder.closed(now, closed.code, refused=refused)
            finally:
                if probing is not None:
                    probing.cancel()
                    with suppress(BaseException):
                        await probing

    def _link(self, preopened: object) -> Link:
        return Link(
            base_url=self.base_url,
            session_id=self.session_id,
            follower=self._follower,
            clock=self._clock,
            switch=self._switch,
            http=self._http,
            poll_wait=self._poll_wait,
            stop_when_finished=self._stop_when_finished,
            preopened=preopened,
            note=self._note,
        )

    async def _next_connect(self, actions: list[LadderAction]) -> Connect:
        """Perform the ladder's actions until one says which transport to open now."""
        while True:
            for action in actions:
                if isinstance(action, Connect):
                    return action
                if isinstance(action, GiveUp):
                    assert self.last_close is not None
                    raise self._terminal_error(self.last_close)
                if isinstance(action, Wait):
                    self._note(f"backoff {action.until - self._now():.3f}")
            deadline = self._ladder.deadline()
            if deadline is None:  # pragma: no cover - the ladder always has a next step here
                raise RuntimeError("the ladder has nothing scheduled")
            try:
                await asyncio.wait_for(self._switch.wait(), timeout=deadline - self._now())
            except TimeoutError:
                # the wait ran on the event loop's clock; tell the ladder its deadline passed
                actions = self._ladder.tick(max(self._now(), deadline))
            else:  # switch_transport() during the wait
                self._switch.clear()
                requested, self._requested = self._requested, None
                if requested is not None:
                    actions = self._ladder.use(self._now(), requested)

    async def _probe_loop(self, link: Link) -> None:
        """While on a fallback: open a WebSocket beside it when the ladder says so, and hand
        over to it (through the switch) once it opens."""
        ladder = self._ladder
        while True:
            deadline = ladder.deadline()
            if deadline is None:
                return
            await asyncio.sleep(max(0.0, deadline - self._now()))
            for action in ladder.tick(max(self._now(), deadline)):
                if not isinstance(action, Probe):
                    continue
                self._note("probe: trying WebSocket beside the fallback")
                try:
                    opened = await open_ws(replace(link, open_timeout=ladder.policy.probe_timeout))
                except Exception as exc:  # any failure of a probe is only a failed probe
                    self._note(f"probe failed: {exc!r}")
                    ladder.probe_failed(self._now())
                    continue
                if ladder.probe_opened(self._now()):  # [Promote()]: it takes over
                    self._promoted = opened
                    self._switch.set()
                    return
                await close_opened(opened)

    def _now(self) -> float:
        return self._clock.monotonic()

    def _note(self, what: str) -> None:
        if self._trace is not None:
            self._trace(what)

    def _terminal_error(self, closed: Closed) -> Tk9Error:
        if closed.code == CloseCode.SESSION_NOT_FOUND:
            return SessionNotFound(f"session {self.session_id} not found")
        if closed.code == CloseCode.UNAUTHORIZED:
            return Unauthorized("the server wants credentials: pass --token or set TK9_TOKEN")
        error = self._follower.last_error
        message = error.message if error is not None else closed.reason or "closed by server"
        return StreamClosed(message, closed.code)

    # --- lifecycle -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> SessionFollower:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
