"""Disk full: a run that cannot write ends ``failed`` with the true reason, and health says so.

Issue 10 found that when the data directory's disk fills, a run's failure cannot be written,
its task dies unreported and the run shows ``running`` forever; a restart then blames "the
server stopped"; ``/api/health`` still answers ok. :class:`Storage` closes those gaps:

* :func:`is_disk_full` recognises the error at the storage boundary whatever layer raised it:
  ``OSError`` ``ENOSPC``/``EDQUOT`` (files), SQLite's "database or disk is full", Redis's
  ``OOM`` refusal.
* :meth:`Storage.watch` follows every run's task. A run that died of a full disk gets a
  zero-byte marker file (``DATA_DIR/disk-full/<id>``: an empty file needs an inode, no data
  block) and a retry loop that appends its terminal ``research_status: failed`` ("disk full …")
  as soon as space allows. A server stopped before that happens finds the marker at the next
  start (:meth:`Storage.recover`) and closes the run ``failed`` with the same reason, before
  runs left over by a crash are marked ``interrupted``.
* :meth:`Storage.health` probes the data directory with a small write: ``/api/health`` answers
  503 ``degraded`` with the cause while writes fail, and ok again once they succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from tk9.server.logging import get_logger
from tk9.sessions import Closing, SessionService

if TYPE_CHECKING:
    from tk9.server.context import AppContext

DISK_FULL = "disk full: the server had no space left to write this run's events or files"
PROBE_BYTES = 4096
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception inside it, or its cause) is a full disk or store."""
    seen = 0
    while exc is not None and seen < 20:
        seen += 1
        if isinstance(exc, BaseExceptionGroup):
            return any(is_disk_full(e) for e in exc.exceptions)
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
            return True
        if type(exc).__name__ in ("OutOfMemoryError", "ResponseError") and "OOM" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class Storage:
    """Write-failure bookkeeping of one app; see the module docstring."""

    def __init__(self, ctx: AppContext, retry_interval: float = 5.0) -> None:
        self._ctx = ctx
        self._retry = retry_interval
        self._pending: dict[str, asyncio.Task[None]] = {}
        self.cause: str | None = None
        """The last write failure seen, until a write succeeds again."""

    @property
    def markers(self) -> Path:
        return self._ctx.settings.data_dir / "disk-full"

    # --- runs -------------------------------------------------------------------------------

    def watch(self, session_id: str, task: object) -> None:
        """Follow a run's task (``Runs.start``'s return value, when it is a task)."""
        if isinstance(task, asyncio.Future):
            task.add_done_callback(lambda t: self._run_ended(session_id, t))

    def _run_ended(self, session_id: str, task: asyncio.Future[object]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if not is_disk_full(exc):
            return
        self.cause = DISK_FULL
        get_logger(session_id=session_id).error("disk_full", error=repr(exc))
        with contextlib.suppress(OSError):
            self.markers.mkdir(exist_ok=True)
            (self.markers / session_id).touch()
        if session_id not in self._pending:
            self._pending[session_id] = asyncio.ensure_future(self._close_when_possible(session_id))

    async def _close_when_possible(self, session_id: str) -> None:
        try:
            while True:
                if await self._close_failed(session_id):
                    return
                await asyncio.sleep(self._retry)  # until space frees up (or the server stops)
        finally:
            self._pending.pop(session_id, None)

    async def _close_failed(self, session_id: str) -> bool:
        """Append the terminal ``failed`` status; ``False`` while the disk is still full."""
        ctx = self._ctx
        try:
            sessions = SessionService(ctx.log, ctx.settings.node_id, ctx.clock)
            await sessions.close(session_id, Closing.failed("", DISK_FULL))
        except Exception as exc:
            if is_disk_full(exc):
                return False
            get_logger(session_id=session_id).error("disk_full_close_failed", error=repr(exc))
        with contextlib.suppress(OSError):
            (self.markers / session_id).unlink()
        if not self._pending.keys() - {session_id}:
            self.cause = None
        return True

    async def recover(self) -> list[str]:
        """At start: close ``failed`` every run a full disk stopped; returns their ids."""
        if not self.markers.is_dir():
            return []
        closed = []
        known = {i.session_id for i in await self._ctx.log.list_streams()}
        for marker in sorted(self.markers.iterdir()):
            sid = marker.name
            if sid not in known:
                marker.unlink(missing_ok=True)
            elif await self._close_failed(sid):
                closed.append(sid)
        return closed

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        await asyncio.gather(*self._pending.values(), return_exceptions=True)

    # --- health -----------------------------------------------------------------------------

    async def health(self) -> str | None:
        """``None`` when the data directory takes a write, else the cause."""
        probe = self._ctx.settings.data_dir / ".health-probe"
        try:
            await asyncio.to_thread(_probe, probe)
        except OSError as exc:
            if is_disk_full(exc):
                self.cause = self.cause or DISK_FULL
                return "disk full: no space left in the data directory"
            return f"data directory not writable ({exc.strerror or type(exc).__name__})"
        if self.cause is not None and not self._pending:
            self.cause = None
        return self.cause


def _probe(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"\0" * PROBE_BYTES)  # allocates (or refuses) blocks: no fsync needed
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
