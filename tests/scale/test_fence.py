"""Fencing on a real redis-server with an injected clock: a worker that lost its lease while
still alive (paused, cut off) cannot append after another node ended the run ``interrupted``.

No sleeping: the clock is moved by hand, the "pause" is an append held at a gate, and the
keeper's renewal is kept out of the way by a long watch interval (a paused process renews
nothing either)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.log.redis_server import RedisServer
from tests.scale.test_worker import settings_for
from tk9.clock import FakeClock
from tk9.events import Event, EventType, RunStatus
from tk9.jobs import worker as worker_module
from tk9.jobs.lease import Got, Leases
from tk9.jobs.reaper import reap
from tk9.jobs.worker import FENCED, RunWorker
from tk9.log.delegate import DelegatingLog
from tk9.log.fence import Fenced, fenced
from tk9.log.redis import RedisEventLog
from tk9.sessions import LogWriter, SessionService


@pytest.fixture
async def log(redis: Redis, redis_server: RedisServer) -> RedisEventLog:
    events = RedisEventLog(redis_server.url)
    await events.open()
    return events


async def test_a_stale_token_is_refused_and_writes_nothing(
    log: RedisEventLog, redis: Redis
) -> None:
    clock = FakeClock()
    web = SessionService(log, "web-1", clock)
    await web.create("s", "tides", "en")
    leases = Leases(redis, ttl=15)
    got, fence = await leases.take("s", "worker-2", clock.wall(), limit=2)
    assert got == Got.FRESH and fence is not None
    with fenced(fence):
        await LogWriter(log, "s").status(RunStatus.RUNNING, 10, "Browser")
        await log.update_meta("s", {"status": "running"})

    clock.advance(15.1)  # the lease lapses; the worker is still alive but paused
    assert await reap(leases, web, "web-1", clock.wall()) == ["s"]
    before = await log.info("s")
    assert before.meta["status"] == "interrupted"

    with fenced(fence), pytest.raises(Fenced):
        await LogWriter(log, "s").status(RunStatus.COMPLETED, 100, "Done")
    with fenced(fence), pytest.raises(Fenced):
        await log.update_meta("s", {"status": "completed"})
    after = await log.info("s")
    assert after.last_seq == before.last_seq and after.meta == before.meta
    assert (await web.state("s")).status == RunStatus.INTERRUPTED
    # the generation only grows: a later take never hands the stale token out again
    _, again = await leases.take("s", "worker-3", clock.wall())
    assert again is not None and again.token == fence.token + 2  # the reaper took +1
    await log.close()


class GateLog(DelegatingLog):
    """Holds the run's ``after``-th append until ``release`` is set: the worker's pause."""

    def __init__(self, inner: RedisEventLog, after: int) -> None:
        super().__init__(inner)
        self.count, self.after = 0, after
        self.reached, self.release = asyncio.Event(), asyncio.Event()

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        self.count += 1
        if self.count == self.after:
            self.reached.set()
            await self.release.wait()
        return await self.inner.append(session_id, event_type, payload)


async def test_a_paused_worker_whose_run_was_closed_elsewhere_stops_without_writing(
    log: RedisEventLog,
    redis: Redis,
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_module, "WATCH_INTERVAL", 3600.0)  # paused: no renewal
    clock = FakeClock()
    settings = settings_for(
        redis_server, tmp_path, "worker-2", demo_interval=0.001, demo_events=200
    )
    web = SessionService(log, "web-1", clock)
    await web.create("s", "tides", "en")
    gate = GateLog(log, after=6)
    worker = RunWorker(gate, settings, redis, clock=clock)
    run = asyncio.create_task(worker.run("s", "tides", "en"))
    await asyncio.wait_for(gate.reached.wait(), timeout=10)

    clock.advance(settings.lease_ttl + 0.1)
    leases = Leases(redis, settings.lease_ttl)
    assert await reap(leases, web, "web-1", clock.wall()) == ["s"]
    closed = await log.info("s")
    assert closed.meta["status"] == "interrupted"

    gate.release.set()  # the worker wakes up and tries to append
    assert await asyncio.wait_for(run, timeout=10) == FENCED
    after = await log.info("s")
    assert after.last_seq == closed.last_seq and after.meta == closed.meta
    state = await web.state("s")
    assert state.status == RunStatus.INTERRUPTED
    assert state.error is not None and "lease" in state.error
    assert await leases.live(clock.wall()) == []
    await log.close()


async def test_an_append_whose_reply_was_lost_is_not_written_twice(log: RedisEventLog) -> None:
    """A restart can cut the connection after the script ran: the retry finds the entry."""
    from tk9.errors import Unavailable

    await log.create("s", {})
    run, calls = log._run, [0]

    async def reply_lost_once(name: str, keys: list[str], args: list[Any]) -> Any:
        calls[0] += 1
        result = await run(name, keys, args)
        if calls[0] == 1:
            raise Unavailable("connection reset after the script ran")
        return result

    log._run = reply_lost_once  # type: ignore[method-assign]
    event = await log.append("s", EventType.LOG, {"message": "once"})
    log._run = run  # type: ignore[method-assign]
    assert calls[0] == 1 and event.seq == 1
    assert [e.payload for e in await log.read("s", 0)] == [{"message": "once"}]
    assert (await log.append("s", EventType.LOG, {"message": "next"})).seq == 2
    await log.close()


class FailingLog(DelegatingLog):
    """Redis gone for longer than the log rides out: appends fail after the ``after``-th."""

    def __init__(self, inner: RedisEventLog, after: int) -> None:
        super().__init__(inner)
        self.count, self.after = 0, after

    async def append(
        self, session_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> Event:
        from tk9.errors import Unavailable

        self.count += 1
        if self.count >= self.after:
            raise Unavailable("event log (Redis) unavailable: outage longer than 10 s")
        return await self.inner.append(session_id, event_type, payload)


async def test_a_run_that_failed_on_an_outage_keeps_its_lease_so_the_reaper_ends_it(
    log: RedisEventLog, redis: Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    from tk9.errors import Unavailable

    clock = FakeClock()
    settings = settings_for(redis_server, tmp_path, "worker-2", demo_events=50)
    web = SessionService(log, "web-1", clock)
    await web.create("s", "tides", "en")
    worker = RunWorker(FailingLog(log, after=6), settings, redis, clock=clock)
    with pytest.raises(Unavailable):
        await worker.run("s", "tides", "en")
    leases = Leases(redis, settings.lease_ttl)
    assert await leases.live(clock.wall()) == ["s"]  # not released: the run never ended
    clock.advance(settings.lease_ttl + 0.1)
    assert await reap(leases, web, "web-1", clock.wall()) == ["s"]
    state = await web.state("s")
    assert state.status == RunStatus.INTERRUPTED and "lease" in (state.error or "")
    await log.close()
