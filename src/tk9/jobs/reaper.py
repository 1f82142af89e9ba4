"""Ends runs whose lease lapsed: their worker was killed, hung or lost its machine.

Every web node and every worker runs :func:`reaper_loop`. A pass takes over each lapsed lease
(:meth:`~tk9.jobs.lease.Leases.acquire` is atomic, so exactly one node wins a given run),
closes the run ``interrupted`` from its projection (:meth:`tk9.sessions.SessionService.close`:
running agents failed, the rest skipped, the reason on the final status) and releases the
lease. A run is so ended within ``lease_ttl + reaper_interval`` of its last renewal.
"""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError

from tk9.clock import Clock
from tk9.errors import NotFound, Unavailable
from tk9.jobs.lease import Got, Leases
from tk9.server.logging import get_logger
from tk9.sessions import Closing, SessionService

LAPSED = Closing.interrupted(
    "the worker executing this run stopped renewing its lease (killed or unreachable)",
    "its worker stopped renewing its lease",
)


async def reap(leases: Leases, sessions: SessionService, holder: str, now: float) -> list[str]:
    """One pass: close every run whose lease lapsed before ``now``; returns their ids."""
    closed: list[str] = []
    for session_id in await leases.lapsed(now):
        if await leases.acquire(session_id, holder, now) != Got.TOOK_OVER:
            continue  # renewed meanwhile, or another node took it first
        try:
            if await sessions.close(session_id, LAPSED):
                closed.append(session_id)
        except NotFound:
            pass  # deleted meanwhile: only the lease is left to drop
        finally:
            await leases.release(session_id, holder)
    return closed


async def reaper_loop(
    leases: Leases, sessions: SessionService, holder: str, clock: Clock, interval: float
) -> None:
    """:func:`reap` every ``interval`` seconds until cancelled (Redis errors are logged)."""
    logger = get_logger()
    while True:
        try:
            closed = await reap(leases, sessions, holder, clock.wall())
            if closed:
                logger.warning("lapsed_leases_closed", sessions=closed)
        except (RedisError, Unavailable, OSError) as exc:
            logger.warning("reaper_failed", error=str(exc))
        await asyncio.sleep(interval)
