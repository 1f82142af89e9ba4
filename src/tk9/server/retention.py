"""Retention: sessions older than ``TK9_RETENTION_DAYS`` are removed, events and files together.

Nothing removed old sessions before (``EventLog.trim`` existed, nothing called it), so a service
grew by every run's events and ~140 KiB of files forever. :func:`sweep` removes each session
created before the cutoff whose run is not in progress, exactly as ``DELETE`` does
(:func:`remove_session`); the app runs it when it starts and then every hour.
"""

from __future__ import annotations

import asyncio
import shutil

from tk9.errors import NotFound
from tk9.server.context import AppContext
from tk9.server.logging import get_logger
from tk9.storage import make_file_store

SWEEP_INTERVAL = 3600.0
DAY = 86_400.0


async def remove_session(ctx: AppContext, session_id: str) -> None:
    """Close its viewers, delete its stream, stored snapshot and files (and, in queue mode,
    its lease, fencing generation and cancel keys in Redis).

    Unknown ids raise ``NotFound``.
    """
    await ctx.hub.drop_all(1000, session_id=session_id)
    await ctx.log.delete(session_id)
    if ctx.settings.run_mode == "queue":
        from tk9.jobs.queue import QueueRuns

        if isinstance(ctx.runs, QueueRuns):
            await ctx.runs.forget(session_id)
    await ctx.snapshots.delete(session_id)
    await make_file_store(ctx.settings).remove(session_id)
    folder = ctx.settings.outputs_dir / session_id  # the run's local copies (any store)
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder, ignore_errors=True)


async def sweep(ctx: AppContext, now: float) -> list[str]:
    """Remove the sessions created before ``now - retention``; returns their ids."""
    days = ctx.settings.retention_days
    if days is None:
        return []
    cutoff = now - days * DAY
    active = set(ctx.runs.active())
    removed = []
    for info in await ctx.log.list_streams():
        created = float(info.meta.get("created_at", info.created_at))
        if created >= cutoff or info.session_id in active:
            continue
        try:
            await remove_session(ctx, info.session_id)
        except NotFound:
            continue  # deleted meanwhile
        removed.append(info.session_id)
    if removed:
        get_logger().info("retention", removed=len(removed), older_than_days=days)
    return removed


async def retention_loop(ctx: AppContext) -> None:
    """Sweep now, then every hour, until cancelled."""
    while True:
        await sweep(ctx, ctx.clock.wall())
        await asyncio.sleep(SWEEP_INTERVAL)
