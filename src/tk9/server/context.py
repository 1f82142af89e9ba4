"""Everything a request handler needs, built once per app from the ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends
from starlette.requests import HTTPConnection

from tk9.accounts.store import UserStore
from tk9.clock import Clock
from tk9.log.base import EventLog
from tk9.protocol.connection import ProtocolConfig
from tk9.research.translate import Route
from tk9.server.broadcast import Broadcasts
from tk9.server.changes import Changes
from tk9.server.frames import FrameCache
from tk9.server.hub import Hub
from tk9.server.limits import Limits
from tk9.server.metrics import Metrics
from tk9.server.snapshots import SnapshotCache
from tk9.server.storage import Storage
from tk9.settings import Settings


class Runs(Protocol):
    """What the server needs from whatever produces a session's events."""

    def start(self, session_id: str, subject: str, language: str) -> object: ...

    async def cancel(self, session_id: str) -> bool:
        """Ask a queued or live run to stop (from any node in queue mode)."""
        ...

    def active(self) -> list[str]:
        """Ids of the sessions with a run in progress (or waiting for a slot)."""
        ...

    async def mark_interrupted(self) -> list[str]:
        """Mark runs a crash left unfinished as ``interrupted``; returns their ids."""
        ...

    async def shutdown(self) -> None: ...


@dataclass
class AppContext:
    settings: Settings
    clock: Clock
    log: EventLog
    runs: Runs
    metrics: Metrics
    snapshots: SnapshotCache
    hub: Hub = field(default_factory=Hub)
    frames: FrameCache = field(default_factory=FrameCache)
    language_routes: dict[str, Route] | None = None
    """How each language would be translated (:func:`tk9.server.api_sessions.language_routes`)."""
    limits: Limits | None = None
    """Per-user and global admission checks for new runs (built by the app factory)."""
    users: UserStore | None = None
    """Accounts (``TK9_AUTH=accounts``; opened with the app's lifespan)."""
    changes: Changes = field(default_factory=Changes)
    """Bumped when a sessions listing row changes (the live sessions feed waits on it)."""
    broadcasts: Broadcasts = field(init=False)
    """Per-session push to caught-up viewers (see :mod:`tk9.server.broadcast`)."""
    storage: Storage = field(init=False)
    """Disk-full handling and the health probe (see :mod:`tk9.server.storage`)."""

    def __post_init__(self) -> None:
        self.broadcasts = Broadcasts(self)
        self.storage = Storage(self, self.settings.storage_retry)

    @property
    def protocol_config(self) -> ProtocolConfig:
        s = self.settings
        return ProtocolConfig(
            heartbeat_interval=s.heartbeat_interval,
            heartbeat_timeout=s.heartbeat_timeout,
            max_frame_bytes=s.max_frame_bytes,
            outbound_limit=s.outbound_buffer,
            send_timeout=s.send_timeout,
        )


async def get_context(conn: HTTPConnection) -> AppContext:
    """FastAPI dependency: the app's context (works for HTTP and WebSocket).

    A coroutine on purpose: FastAPI runs plain-function dependencies in a thread pool.
    """
    ctx: AppContext = conn.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]
"""Handler parameter type that injects the app context."""
