"""What every transport of a :class:`~tk9.client.session.SessionFollower` shares.

The updates a follower yields (:class:`Applied`, :class:`Replaced`), the ways a connection ends
(:class:`Closed`, :class:`Switched`, :class:`Handover`), the :class:`Link` each transport is
given, and the :class:`Prober` that opens a replacement beside a silent connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection

from tk9.clock import Clock
from tk9.errors import CloseCode
from tk9.events import Event
from tk9.protocol.follower import Action, Apply, Follower, Replace
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

    def __init__(
        self, code: int, reason: str = "", *, ws_refused: bool = False, resume: str | None = None
    ) -> None:
        super().__init__(f"closed with {code} {reason}".strip())
        self.code = code
        self.reason = reason
        self.resume = resume
        """Set when the follower ended the connection itself: ``stale`` (silent past the bound),
        ``gap`` or ``epoch_mismatch`` (reopen from the cursor at once)."""
        self.ws_refused = ws_refused
        """The WebSocket upgrade was answered with plain HTTP: tk9 always accepts an upgrade
        (an unknown session is a 4404 close after it), so something on the path — a proxy
        without WebSocket support — refused it."""


class Switched(Exception):
    """The caller asked for another transport; reconnect at once, without backoff."""


class Handover(Exception):
    """A replacement for a silent connection opened: continue on ``opened`` (same transport),
    from the cursor, without backoff."""

    def __init__(self, opened: Any) -> None:
        super().__init__("handover to a fresh connection")
        self.opened = opened


CLOSE_TIMEOUT = 0.25
"""How long a WebSocket close waits for the other side. Nothing is lost by giving up (the
cursor is the state), and the link being closed is often the one that just went bad, where a
longer wait only delays the reconnect."""

PROBE_POLL = 0.05
"""While a replacement is opening, the receive loop wakes this often to see if it is ready."""


def close_code_for_status(status: int) -> int:
    """The close code an HTTP status stands for (for the reconnect policy)."""
    if status == 401:
        return int(CloseCode.UNAUTHORIZED)
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
    preopened: Any = None
    note: Callable[[str], None] | None = None
    """Where the connection's notable steps are reported (``SessionFollower(trace=...)``)."""
    """A connection a :class:`Handover` opened already: used instead of opening one."""

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


class Prober:
    """Opens one replacement at a time for a silent connection (see :class:`Handover`)."""

    def __init__(self, link: Link, opener: Callable[[Link], Awaitable[Any]]) -> None:
        self._link = link
        self._opener = opener
        self._task: asyncio.Future[Any] | None = None

    def timeout(self, deadline: float) -> float:
        """The receive timeout: the follower's deadline, the probe time, the poll interval."""
        follower = self._link.follower
        if self._task is not None:
            return min(deadline, PROBE_POLL)
        silent = follower.silent_for(self._link.now())
        if silent is None:
            return deadline
        return min(deadline, max(0.0, follower.probe_after - silent))

    def check(self) -> None:
        """Start a replacement if the connection is suspect; raise Handover once it opened."""
        follower = self._link.follower
        if self._task is None:
            if follower.probe_due(self._link.now()):
                self._note("probe: connection silent, opening a replacement beside it")
                self._task = asyncio.ensure_future(self._opener(self._link))
            return
        if not self._task.done():
            return
        task, self._task = self._task, None
        exc = task.exception()
        if exc is None:
            raise Handover(task.result())
        self._note(f"probe failed: {exc!r}")

    def _note(self, what: str) -> None:
        if self._link.note is not None:
            self._link.note(what)

    async def alive(self) -> None:
        """The old connection spoke: it is not dead, drop the replacement."""
        if self._task is not None:
            task, self._task = self._task, None
            self._note("probe dropped: the connection spoke")
            await drop_task(task)


async def drop_task(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with suppress(BaseException):
        opened = await task
        await close_opened(opened)


async def close_opened(opened: Any) -> None:
    """Drop a connection that opened but is not used (a hedge that lost, an unneeded probe).

    A WebSocket is aborted rather than closed with a handshake: that handshake can take up to
    ``close_timeout`` on the very link that is lossy, and the receive loop must not wait for
    it; the server sees an abnormal close of a connection that never carried an event."""
    if isinstance(opened, ClientConnection):
        opened.transport.abort()
    elif isinstance(opened, httpx.Response):
        await opened.aclose()


def split_actions(actions: list[Action]) -> tuple[list[Update], list[Action]]:
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
