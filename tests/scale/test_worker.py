"""The queue worker in-process on a real redis-server: a run executes under its lease, a
cancel from another node ends it, a queued run is cancelled without a worker, and a job
delivered again after its worker died is never run twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.log.redis_server import RedisServer
from tk9.events import AgentStatus, RunStatus
from tk9.jobs.lease import Leases
from tk9.jobs.queue import QueueRuns
from tk9.jobs.worker import RunWorker
from tk9.log.redis import RedisEventLog
from tk9.sessions import LogWriter, SessionService
from tk9.settings import Settings


def settings_for(server: RedisServer, tmp_path: Path, node: str, **more: object) -> Settings:
    fields: dict[str, object] = {
        "data_dir": tmp_path,
        "node_id": node,
        "redis_url": server.url,
        "log_backend": "redis",
        "run_mode": "queue",
        "demo_producer": True,
        "demo_interval": 0,
        "use_wiki_corpus": False,
    }
    return Settings(**(fields | more))  # type: ignore[arg-type]


@pytest.fixture
async def log(redis: Redis, redis_server: RedisServer) -> RedisEventLog:
    events = RedisEventLog(redis_server.url)
    await events.open()
    return events


async def test_a_worker_runs_a_queued_session_to_the_end_and_frees_its_slot(
    log: RedisEventLog, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = settings_for(redis_server, tmp_path, "worker-1")
    await SessionService(log, "web-1").create("s", "tides", "es")
    worker = RunWorker(log, settings, redis)
    assert await worker.run("s", "tides", "es") == "completed"
    state = await worker.sessions.state("s")
    assert state.status == RunStatus.COMPLETED
    assert all(c.status in (AgentStatus.COMPLETED,) for c in state.agents.values())
    assert [f.language for f in state.files] == ["en", "es"]
    assert await Leases(redis, 15).live(1e12) == []
    assert await worker.run("s", "tides", "es") == "already ended"  # delivered twice
    await log.close()


async def test_cancel_from_another_web_node_ends_a_running_run(
    log: RedisEventLog, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    slow = settings_for(redis_server, tmp_path, "worker-1", demo_interval=0.02, demo_events=500)
    await SessionService(log, "web-1").create("s", "tides", "en")
    worker = RunWorker(log, slow, redis)
    run = asyncio.create_task(worker.run("s", "tides", "en"))
    while (await log.info("s")).last_seq < 5:  # bounded by the wait_for below
        await log.wait("s", (await log.info("s")).last_seq, timeout=1)
    web2 = QueueRuns(log, settings_for(redis_server, tmp_path, "web-2"))
    await web2.open()
    assert await web2.cancel("s") is True
    assert await asyncio.wait_for(run, timeout=10) == "cancelled"
    state = await worker.sessions.state("s")
    assert state.status == RunStatus.CANCELLED
    assert all(c.status != AgentStatus.RUNNING for c in state.agents.values())
    assert await web2.cancel("s") is False
    await web2.shutdown()
    await log.close()


async def test_a_queued_run_is_cancelled_without_a_worker_and_then_skipped(
    log: RedisEventLog, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    await SessionService(log, "web-1").create("s", "tides", "en")
    await LogWriter(log, "s").status(RunStatus.PENDING, 0, "Queued")
    web = QueueRuns(log, settings_for(redis_server, tmp_path, "web-1"))
    await web.open()
    assert await web.cancel("s") is True
    state = await web.sessions.state("s")
    assert state.status == RunStatus.CANCELLED
    assert {c.status for c in state.agents.values()} == {AgentStatus.SKIPPED}
    worker = RunWorker(log, settings_for(redis_server, tmp_path, "worker-1"), redis)
    assert await worker.run("s", "tides", "en") in ("already ended", "ended while queued")
    await web.shutdown()
    await log.close()


async def test_a_job_delivered_again_after_its_worker_died_is_closed_not_rerun(
    log: RedisEventLog, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    await SessionService(log, "web-1").create("s", "tides", "en")
    await LogWriter(log, "s").status(RunStatus.RUNNING, 30, "Researcher")  # died mid-run
    worker = RunWorker(log, settings_for(redis_server, tmp_path, "worker-2"), redis)
    assert await worker.run("s", "tides", "en") == "an earlier attempt lapsed"
    state = await worker.sessions.state("s")
    assert state.status == RunStatus.INTERRUPTED and state.progress == 30
    await log.close()


async def test_a_restarted_web_node_queues_what_it_created_but_never_queued(
    log: RedisEventLog, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    from arq.jobs import Job, JobStatus

    from tk9.jobs import QUEUE_NAME

    sessions = SessionService(log, "web-1")
    await sessions.create("lost", "tides", "en")  # the node died before enqueueing it
    await SessionService(log, "web-2").create("not-mine", "tides", "en")
    web = QueueRuns(log, settings_for(redis_server, tmp_path, "web-1"))
    assert await web.mark_interrupted() == []  # nothing of a worker's is closed here
    assert await Job("lost", web._pool, _queue_name=QUEUE_NAME).status() == JobStatus.queued
    assert await Job("not-mine", web._pool, _queue_name=QUEUE_NAME).status() == JobStatus.not_found
    assert await web.enqueue("lost", "tides", "en") is False  # queued once, never twice
    await web.shutdown()
    worker = RunWorker(log, settings_for(redis_server, tmp_path, "worker-1"), redis)
    assert await worker.run("lost", "tides", "en") == "completed"
    await log.close()
