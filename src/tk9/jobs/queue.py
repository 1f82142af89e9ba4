"""The web side of ``TK9_RUN_MODE=queue``: the server's ``Runs`` over the Redis job queue.

* :meth:`QueueRuns.start` writes the run's ``pending`` status ("Queued") and enqueues one arq
  job whose id is the session id (arq refuses a second job with the same id, so a run is
  never queued twice);
* :meth:`QueueRuns.cancel` works from any web node: it records the cancel in Redis, then
  tries to take the run's lease — if it gets it, no worker executes the run (it was only
  queued) and the run is closed ``cancelled`` here, and the worker that later takes the job
  finds it ended; if a worker holds the lease, that worker sees the cancel within
  :data:`tk9.jobs.worker.WATCH_INTERVAL` and ends the run ``cancelled`` itself;
* :meth:`QueueRuns.mark_interrupted` (at start-up) queues again this node's runs that were
  created but never picked up, and starts the lapsed-lease reaper (:mod:`tk9.jobs.reaper`);
  runs that workers had started are theirs: the reaper ends them if their lease lapses.
* :meth:`QueueRuns.forget` drops a deleted session's keys (lease, fence, cancel);
* :meth:`QueueRuns.active` is every unfinished run in the shared log, refreshed at each
  reaper pass (plus the runs this node queued since), so the admission limits are global.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis

from tk9.clock import Clock, SystemClock
from tk9.errors import Unavailable
from tk9.events import TERMINAL_RUN_STATUSES, RunStatus
from tk9.jobs import JOB_FUNCTION, QUEUE_NAME, dumps, loads
from tk9.jobs.lease import Got, Leases, cancel_key
from tk9.jobs.reaper import reap
from tk9.log.base import EventLog
from tk9.server.logging import get_logger
from tk9.sessions import Closing, LogWriter, SessionService, is_terminal, never_started
from tk9.settings import Settings

CANCEL_TTL = 86_400
"""Seconds a cancel request is kept (a worker consults it when it takes the job)."""


class QueueRuns:
    """Implements the server's ``Runs`` with the Redis job queue (see the module docstring)."""

    def __init__(self, log: EventLog, settings: Settings, clock: Clock | None = None) -> None:
        self._log = log
        self._settings = settings
        self._clock = clock or SystemClock()
        self.sessions = SessionService(log, settings.node_id, self._clock)
        self.holder = f"web:{settings.node_id}"
        self._redis: Redis | None = None
        self._pool: Any = None
        self._leases: Leases | None = None
        self._active: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect to Redis (idempotent; the app's start-up calls it via mark_interrupted)."""
        if self._redis is not None:
            return
        from arq.connections import RedisSettings, create_pool

        self._redis = Redis.from_url(self._settings.redis_url)
        self._leases = Leases(self._redis, self._settings.lease_ttl)
        self._pool = await create_pool(
            RedisSettings.from_dsn(self._settings.redis_url),
            job_serializer=dumps,
            job_deserializer=loads,
            default_queue_name=QUEUE_NAME,
        )

    def _parts(self) -> tuple[Redis, Leases, Any]:
        if self._redis is None or self._leases is None or self._pool is None:
            raise Unavailable("the run queue is not open")
        return self._redis, self._leases, self._pool

    def active(self) -> list[str]:
        return sorted(self._active)

    def start(self, session_id: str, subject: str, language: str) -> None:
        self._active.add(session_id)
        task = asyncio.create_task(self._start(session_id, subject, language))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, session_id: str, subject: str, language: str) -> None:
        """Enqueue; a run that cannot be queued (Redis away) ends ``failed`` saying so,
        rather than waiting ``pending`` for a job that does not exist."""
        try:
            await self.enqueue(session_id, subject, language, announce=True)
        except Exception as exc:  # any failure to queue must reach the viewer
            message = f"could not queue the run: {type(exc).__name__}: {exc}"
            get_logger().error("enqueue_failed", session_id=session_id, error=message)
            with contextlib.suppress(Exception):
                await self.sessions.close(session_id, Closing.failed("", message))
            self._active.discard(session_id)

    async def enqueue(
        self, session_id: str, subject: str, language: str, *, announce: bool = False
    ) -> bool:
        """Put the run on the queue (``announce``: write its ``pending`` status first);
        False when a job for it is already queued."""
        _, _, pool = self._parts()
        if announce:
            await LogWriter(self._log, session_id).status(RunStatus.PENDING, 0, "Queued")
        job = await pool.enqueue_job(
            JOB_FUNCTION, session_id, subject, language, _job_id=session_id
        )
        return job is not None

    async def cancel(self, session_id: str) -> bool:
        redis, leases, _ = self._parts()
        if is_terminal((await self._log.info(session_id)).meta):
            return False
        state = await self.sessions.state(session_id)
        if state.status in TERMINAL_RUN_STATUSES:
            return False
        await redis.set(cancel_key(session_id), self.holder, ex=CANCEL_TTL)
        got = await leases.acquire(session_id, self.holder, self._clock.wall())
        if got == Got.HELD:
            return True  # its worker ends it, within WATCH_INTERVAL
        try:
            await self.sessions.close(session_id, Closing.stopped(RunStatus.CANCELLED, "cancelled"))
        finally:
            await leases.release(session_id, self.holder)
        self._active.discard(session_id)
        return True

    async def forget(self, session_id: str) -> None:
        """The session was deleted: drop its lease, fencing generation and cancel request."""
        _, leases, _ = self._parts()
        await leases.forget(session_id)
        self._active.discard(session_id)

    async def mark_interrupted(self) -> list[str]:
        """Queue again this node's runs that were never picked up; start the reaper."""
        await self.open()
        for info in await self._log.list_streams():
            if is_terminal(info.meta) or info.meta.get("owner") != self._settings.node_id:
                continue
            state = await self.sessions.state(info.session_id)
            if never_started(state) and not info.meta.get("worker"):
                await self.enqueue(info.session_id, state.subject, state.language)
        if self._loop is None:
            self._loop = asyncio.create_task(self._watch())
        return []

    async def _watch(self) -> None:
        """Every ``reaper_interval``: end lapsed runs, refresh the global active list."""
        logger = get_logger()
        _, leases, _ = self._parts()
        while True:
            try:
                closed = await reap(leases, self.sessions, self.holder, self._clock.wall())
                if closed:
                    logger.warning("lapsed_leases_closed", sessions=closed)
                streams = await self._log.list_streams()
                self._active = {i.session_id for i in streams if not is_terminal(i.meta)}
            except Exception as exc:  # keep watching; the log says why this pass failed
                logger.warning("queue_watch_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self._settings.reaper_interval)

    async def shutdown(self) -> None:
        """Stop watching and disconnect; queued and running runs carry on elsewhere."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            await self._pool.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        self._redis = self._pool = self._leases = None
