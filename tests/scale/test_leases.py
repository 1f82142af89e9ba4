"""Leases on a real redis-server with an injected clock: the global slot limit, renewal, and
a lapsed run ended ``interrupted`` by another node (no sleeping: the clock is moved)."""

from __future__ import annotations

from redis.asyncio import Redis

from tk9.clock import FakeClock
from tk9.events import AgentName, AgentStatus, RunStatus
from tk9.jobs.lease import Got, Leases
from tk9.jobs.reaper import reap
from tk9.log.memory import MemoryEventLog
from tk9.sessions import LogWriter, SessionService

A = AgentName


async def test_a_slot_is_a_live_lease_and_a_lapsed_one_frees_its_slot(redis: Redis) -> None:
    clock = FakeClock()
    leases = Leases(redis, ttl=15)
    now = clock.wall()
    assert await leases.acquire("a", "w1", now, limit=2) == Got.FRESH
    assert await leases.acquire("b", "w2", now, limit=2) == Got.FRESH
    assert await leases.acquire("c", "w1", now, limit=2) == Got.FULL
    assert await leases.acquire("a", "w2", now, limit=2) == Got.HELD
    assert await leases.acquire("a", "w1", now, limit=2) == Got.FRESH  # its own: kept
    clock.advance(10)
    assert await leases.renew("a", "w1", clock.wall()) is True  # a: until +25
    assert await leases.renew("a", "w2", clock.wall()) is False  # not the holder
    clock.advance(6)  # b lapsed at +15, a lives
    assert await leases.lapsed(clock.wall()) == ["b"]
    assert await leases.live(clock.wall()) == ["a"]
    assert await leases.acquire("c", "w1", clock.wall(), limit=2) == Got.FRESH
    assert await leases.renew("b", "w2", clock.wall()) is False  # too late: it must stop
    assert await leases.release("a", "w2") is False
    assert await leases.release("a", "w1") is True


async def test_a_run_whose_lease_lapses_is_ended_interrupted_by_any_node(redis: Redis) -> None:
    clock = FakeClock()
    log = MemoryEventLog(clock)
    await log.open()
    web = SessionService(log, "web-1", clock)
    await web.create("s", "tides", "es")
    writer = LogWriter(log, "s")  # what worker-2 wrote before it was killed
    await writer.status(RunStatus.RUNNING, 40, "Researcher")
    await writer.agent(A.ORCHESTRATOR, AgentStatus.RUNNING, 40)
    await writer.agent(A.BROWSER, AgentStatus.COMPLETED, 100)
    await writer.agent(A.RESEARCHER, AgentStatus.RUNNING, 10)
    leases = Leases(redis, ttl=15)
    assert await leases.acquire("s", "worker-2", clock.wall(), limit=2) == Got.FRESH

    clock.advance(14.9)
    assert await reap(leases, web, "web-1", clock.wall()) == []  # still live
    clock.advance(0.2)
    assert await reap(leases, web, "web-1", clock.wall()) == ["s"]

    state = await web.state("s")
    assert state.status == RunStatus.INTERRUPTED and state.progress == 40
    assert state.error is not None and "lease" in state.error
    cards = {name: card.status for name, card in state.agents.items()}
    assert cards[A.RESEARCHER] == cards[A.ORCHESTRATOR] == AgentStatus.FAILED
    assert cards[A.WRITER] == cards[A.TRANSLATOR] == AgentStatus.SKIPPED
    assert cards[A.BROWSER] == AgentStatus.COMPLETED
    assert await leases.renew("s", "worker-2", clock.wall()) is False
    assert await leases.lapsed(clock.wall()) == [] and await leases.live(clock.wall()) == []
    assert await reap(leases, web, "web-2", clock.wall()) == []  # closed exactly once
    await log.close()
