"""The registry of live viewer connections (for shutdown, test hooks and metrics)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class LiveConnection:
    conn_id: str
    session_id: str
    transport: str
    drop: Callable[[int], Awaitable[None]]
    """Close the connection from the server side with the given code."""


@dataclass
class Hub:
    connections: set[LiveConnection] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, transport: str) -> str:
        return f"{transport}-{next(self._ids)}"

    def add(self, conn: LiveConnection) -> None:
        self.connections.add(conn)

    def remove(self, conn: LiveConnection) -> None:
        self.connections.discard(conn)

    async def drop_all(self, code: int, session_id: str | None = None) -> int:
        """Close every live connection (optionally of one session); returns how many."""
        targets = [c for c in self.connections if session_id in (None, c.session_id)]
        await asyncio.gather(*(c.drop(code) for c in targets), return_exceptions=True)
        return len(targets)
