"""``tk9 worker``: executes queued runs, each under a renewable lease.

One arq job per run (job id = session id, so a run is queued once). :meth:`RunWorker.run`:

1. waits for a slot: the run's lease, taken only while fewer than ``max_concurrent_runs``
   leases are live across all workers (the run shows "Waiting for a free slot" meanwhile);
2. re-reads the session's projection: a run that already ended (cancelled while queued, or
   closed by the reaper) is skipped; one that had started under an earlier lease (the job was
   delivered again after its worker died) is closed ``interrupted`` — a research run is not
   resumable mid-way, so it is never run twice;
3. executes it (the research pipeline, or the scripted demo under ``TK9_DEMO_PRODUCER``) while
   a keeper renews the lease every third of ``lease_ttl`` and watches for a cancel asked on any
   web node; a lost lease stops the run. Every write of the run carries the lease's fencing
   token (:mod:`tk9.log.fence`): once another node has taken the lease over, the log refuses
   the old worker's appends (nothing written) and the run stops (result :data:`FENCED`);
4. on a worker shutdown (SIGTERM: arq cancels the job) the run ends ``interrupted`` with the
   reason, unless a cancel had been asked (then ``cancelled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tk9.clock import Clock, SystemClock
from tk9.errors import NotFound, Unavailable
from tk9.events import TERMINAL_RUN_STATUSES, RunStatus
from tk9.jobs import JOB_FUNCTION, QUEUE_NAME, dumps, loads
from tk9.jobs.lease import Got, Leases, cancel_key
from tk9.jobs.reaper import LAPSED, reaper_loop
from tk9.log.base import EventLog
from tk9.log.fence import Fence, Fenced, fenced
from tk9.sessions import LogWriter, SessionService, is_terminal, never_started
from tk9.settings import Settings

WATCH_INTERVAL = 0.5
"""Seconds between two checks for a cancel (and for a free slot while waiting)."""
STOPPED = "interrupted: the worker executing it stopped"
FENCED = "fenced: the lease was taken over; the run stopped without writing"


class RunWorker:
    """Executes runs for one worker process (see the module docstring)."""

    def __init__(
        self,
        log: EventLog,
        settings: Settings,
        redis: Redis,
        clock: Clock | None = None,
        holder: str | None = None,
    ) -> None:
        self.log = log
        self.settings = settings
        self.redis = redis
        self.clock = clock or SystemClock()
        self.leases = Leases(redis, settings.lease_ttl)
        self.holder = holder or f"{settings.node_id}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.sessions = SessionService(log, settings.node_id, self.clock)

    async def run(self, session_id: str, subject: str, language: str) -> str:
        """Execute one queued run; returns what happened (the arq job's result)."""
        taken = await self._slot(session_id)
        if taken is None:
            return "ended while queued"
        got, fence = taken
        if fence is None:
            return "held by another worker"
        release = True
        try:
            state = await self.sessions.state(session_id)
            if state.status in TERMINAL_RUN_STATUSES:
                return "already ended"
            if got == Got.TOOK_OVER or not never_started(state):
                await self.sessions.close(session_id, LAPSED)
                return "an earlier attempt lapsed"
            with fenced(fence):
                await self.log.update_meta(session_id, {"worker": self.holder})
            release = False  # until it ended: a run left unfinished keeps its lease to lapse
            status = await self._execute(session_id, subject, language, fence)
            release = True
            return status.value
        except Fenced:
            release = True
            return FENCED  # another node took the lease over and ended the run
        finally:
            with contextlib.suppress(RedisError, Unavailable, NotFound):
                if not release:  # an error or a shutdown: did the run's closing get written?
                    release = is_terminal((await self.log.info(session_id)).meta)
                if release:  # else the reaper ends it `interrupted` when the lease lapses
                    await self.leases.release(session_id, self.holder)
                await self.redis.delete(cancel_key(session_id))

    async def _slot(self, session_id: str) -> tuple[Got, Fence | None] | None:
        """The run's lease and fence once a slot is free; None if it ended while waiting."""
        limit = self.settings.max_concurrent_runs
        said = False
        while True:
            taken = await self.leases.take(session_id, self.holder, self.clock.wall(), limit)
            if taken[0] != Got.FULL:
                return taken
            if is_terminal((await self.log.info(session_id)).meta):
                return None
            if not said:
                stage = f"Waiting for a free slot ({limit} runs in progress)"
                await LogWriter(self.log, session_id).status(RunStatus.PENDING, 0, stage)
                said = True
            await asyncio.sleep(WATCH_INTERVAL)

    async def _execute(
        self, session_id: str, subject: str, language: str, fence: Fence
    ) -> RunStatus:
        stop = [RunStatus.CANCELLED]
        cancel = asyncio.Event()
        with fenced(fence):  # the run's task tree writes under its lease's token
            work = asyncio.create_task(self._produce(session_id, subject, language, cancel, stop))
        keeper = asyncio.create_task(self._keep(session_id, work, cancel, stop))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:  # the worker is shutting down
            if not work.done():
                asked = await self.redis.exists(cancel_key(session_id))
                stop[0] = RunStatus.CANCELLED if asked else RunStatus.INTERRUPTED
                cancel.set()
                await asyncio.gather(work, return_exceptions=True)
            raise
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _produce(
        self,
        session_id: str,
        subject: str,
        language: str,
        cancel: asyncio.Event,
        stop: list[RunStatus],
    ) -> RunStatus:
        if self.settings.demo_producer:
            from tk9.server.demo import run_demo

            return await run_demo(
                self.log, self.settings, session_id, subject, language, cancel, stop, STOPPED
            )
        from tk9.research.runner import run_research

        output_dir = self.settings.outputs_dir / session_id
        return await run_research(
            self.log,
            session_id,
            subject,
            language,
            self.settings,
            output_dir,
            cancel,
            stop_status=stop,
            stop_reason=STOPPED,
        )

    async def _keep(
        self,
        session_id: str,
        work: asyncio.Task[RunStatus],
        cancel: asyncio.Event,
        stop: list[RunStatus],
    ) -> None:
        """Renew the lease every third of its ttl; stop the run on a cancel or a lost lease."""
        renewed = self.clock.monotonic()
        while not work.done():
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                if await self.redis.exists(cancel_key(session_id)):
                    stop[0] = RunStatus.CANCELLED
                    cancel.set()
                    return
                if self.clock.monotonic() - renewed >= self.leases.ttl / 3:
                    if not await self.leases.renew(session_id, self.holder, self.clock.wall()):
                        stop[0] = RunStatus.INTERRUPTED  # another node is closing it
                        cancel.set()
                        return
                    renewed = self.clock.monotonic()
            except RedisError:
                continue  # Redis away for a moment: the lease lapses if it stays away


async def run_session(ctx: dict[str, Any], session_id: str, subject: str, language: str) -> str:
    """The arq job."""
    worker: RunWorker = ctx["tk9"]
    return await worker.run(session_id, subject, language)


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for :class:`arq.worker.Worker` (start-up opens the log and Redis)."""
    from arq.connections import RedisSettings
    from arq.worker import func

    from tk9.log.factory import make_event_log
    from tk9.server.metrics import Metrics
    from tk9.server.tracking import TrackingLog

    async def startup(ctx: dict[str, Any]) -> None:
        log = TrackingLog(make_event_log(settings), Metrics())  # keeps listing metadata
        await log.open()
        redis = Redis.from_url(settings.redis_url)
        worker = RunWorker(log, settings, redis)
        ctx["tk9"] = worker
        ctx["tk9_reaper"] = asyncio.create_task(
            reaper_loop(
                worker.leases, worker.sessions, worker.holder, worker.clock,
                settings.reaper_interval,
            )
        )  # fmt: skip

    async def shutdown(ctx: dict[str, Any]) -> None:
        reaper: asyncio.Task[None] | None = ctx.get("tk9_reaper")
        if reaper is not None:
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)
        worker: RunWorker | None = ctx.get("tk9")
        if worker is not None:
            await worker.log.close()
            await worker.redis.aclose()

    return {
        "functions": [func(run_session, name=JOB_FUNCTION)],
        "queue_name": QUEUE_NAME,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": settings.worker_jobs,
        "job_timeout": timedelta(days=1),
        "keep_result": timedelta(hours=1),
        "max_tries": 3,
        "poll_delay": 0.2,
        "job_serializer": dumps,
        "job_deserializer": loads,
        "retry_jobs": False,
    }


def run_worker(settings: Settings) -> None:
    """Consume the queue until SIGINT/SIGTERM (runs in progress then end ``interrupted``)."""
    from arq.worker import Worker

    Worker(**worker_options(settings)).run()
