"""A pulse for "the sessions listing may have changed", for the live sessions feed.

:class:`tk9.server.tracking.TrackingLog` bumps it when this process creates or deletes a
session or appends a ``research_status`` event (status, progress or warning count of a listing
row). The feed (:mod:`tk9.server.api_feed`) waits on it, with a bound, since a worker on another
node changes the shared log without this process seeing it.
"""

from __future__ import annotations

import asyncio
import contextlib


class Changes:
    """A version number and a way to wait for it to move (no I/O; one per app)."""

    def __init__(self) -> None:
        self.version = 0
        self._moved = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait(self, seen: int, timeout: float) -> int:
        """The version once it differs from ``seen``, or after ``timeout`` seconds."""
        if self.version == seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), timeout)
        return self.version
