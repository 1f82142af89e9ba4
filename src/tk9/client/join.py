"""``LiveSession``: a late join — start from the stored snapshot, stream only what follows.

Replaying a long session from ``after=0`` costs the viewer the whole history (100k events of a
verbose run). The server keeps the session's snapshot stored beside the log, so a viewer that
wants the *state* (not every past event) loads it with one ``GET /api/sessions/{id}`` and
subscribes from its cursor ``(epoch, seq)``: the stream then carries only the events after it,
and a ``reset`` replaces the state with the server's snapshot::

    async with await LiveSession.join(base_url, session_id) as live:
        async for state in live:
            print(state.status, state.progress)

The fold is :func:`tk9.projection.apply`, the same as the server's; after every update
``live.state`` equals what the snapshot endpoint would answer for the same seq.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import httpx

from tk9.client.http import get_snapshot
from tk9.client.link import Applied, Replaced
from tk9.client.session import SessionFollower, Transport
from tk9.projection import apply
from tk9.state import SessionState


class LiveSession:
    """A session's state kept current: a snapshot plus the events streamed after it."""

    def __init__(self, state: SessionState, follower: SessionFollower) -> None:
        self.state = state
        self.follower = follower

    @classmethod
    async def join(
        cls,
        base_url: str,
        session_id: str,
        transport: Transport = "ws",
        *,
        http: httpx.AsyncClient | None = None,
        **follower_options: Any,
    ) -> LiveSession:
        """Load the snapshot, then follow from its cursor (options go to ``SessionFollower``).

        Raises ``SessionNotFound`` for an unknown session.
        """
        state = await get_snapshot(base_url, session_id, client=http)
        follower = SessionFollower(
            base_url,
            session_id,
            transport,
            after=state.seq,
            epoch=state.epoch,
            status=state.status,
            http=http,
            **follower_options,
        )
        return cls(state, follower)

    def __aiter__(self) -> AsyncIterator[SessionState]:
        return self.states()

    async def states(self) -> AsyncIterator[SessionState]:
        """The state after each applied event or reset, until the follower stops."""
        async for update in self.follower:
            if isinstance(update, Applied):
                self.state = apply(self.state, update.event)
            elif isinstance(update, Replaced):
                self.state = update.snapshot
            yield self.state

    async def aclose(self) -> None:
        await self.follower.aclose()

    async def __aenter__(self) -> LiveSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
