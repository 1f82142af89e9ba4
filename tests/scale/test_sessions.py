"""The sessions service: one close-unfinished rule from the projection, crash recovery that
queues again what was only queued, and a second process's sessions seen without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tk9.events import AgentName, AgentStatus, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.log.sqlite import SqliteEventLog
from tk9.server.demo import DemoRuns
from tk9.sessions import Closing, LogWriter, SessionService, summary
from tk9.settings import Settings

A = AgentName


async def started(log: MemoryEventLog, service: SessionService, sid: str) -> None:
    await service.create(sid, "tides", "es")
    writer = LogWriter(log, sid)
    await writer.status(RunStatus.RUNNING, 40, "Researcher")
    await writer.agent(A.ORCHESTRATOR, AgentStatus.RUNNING, 40)
    await writer.agent(A.BROWSER, AgentStatus.COMPLETED, 100)
    await writer.agent(A.EDITOR, AgentStatus.COMPLETED, 100)
    await writer.agent(A.RESEARCHER, AgentStatus.RUNNING, 10)


async def test_close_gives_every_unfinished_agent_a_final_status_once() -> None:
    log = MemoryEventLog()
    await log.open()
    service = SessionService(log, "web-1")
    await started(log, service, "s")
    closing = Closing.interrupted("the worker stopped", "its worker stopped")
    assert await service.close("s", closing) is True
    state = await service.state("s")
    assert state.status == RunStatus.INTERRUPTED and state.error == "the worker stopped"
    assert state.progress == 40
    cards = {name: card.status for name, card in state.agents.items()}
    assert cards[A.BROWSER] == cards[A.EDITOR] == AgentStatus.COMPLETED
    assert cards[A.RESEARCHER] == cards[A.ORCHESTRATOR] == AgentStatus.FAILED
    assert cards[A.WRITER] == cards[A.PUBLISHER] == cards[A.TRANSLATOR] == AgentStatus.SKIPPED
    assert state.agents[A.RESEARCHER].message == "Interrupted: its worker stopped"
    seq = state.seq
    assert await service.close("s", closing) is False  # ended: nothing more is written
    assert (await service.state("s")).seq == seq
    assert summary(await log.info("s")).status == RunStatus.INTERRUPTED
    await log.close()


async def test_a_restart_queues_again_what_was_only_queued(tmp_path: Path) -> None:
    log = MemoryEventLog()
    await log.open()
    settings = Settings(data_dir=tmp_path, node_id="web-1", demo_interval=0)
    service = SessionService(log, "web-1")
    await started(log, service, "was-running")
    await service.create("was-queued", "chlorophyll", "en")
    await LogWriter(log, "was-queued").status(RunStatus.PENDING, 0, "Queued")
    await service.create("never-announced", "calvin cycle", "en")  # crash right after create
    await SessionService(log, "web-2").create("other-node", "tides", "en")

    runs = DemoRuns(log, settings)
    assert await runs.mark_interrupted() == ["was-running"]
    assert set(runs.active()) == {"was-queued", "never-announced"}
    await asyncio.gather(*runs._tasks.values())
    for sid in ("was-queued", "never-announced"):
        state = await service.state(sid)
        assert state.status == RunStatus.COMPLETED, sid
        assert all(card.status != AgentStatus.PENDING for card in state.agents.values())
    assert (await service.state("other-node")).status == RunStatus.PENDING  # not ours
    assert (await service.state("was-running")).status == RunStatus.INTERRUPTED
    await log.close()


async def test_a_session_written_by_another_process_is_listed_and_streams(
    tmp_path: Path,
) -> None:
    """Two connections to one SQLite file stand for ``tk9 serve`` and ``tk9 research``."""
    server = SqliteEventLog(tmp_path / "tk9.sqlite3")
    cli = SqliteEventLog(tmp_path / "tk9.sqlite3")
    await server.open()
    await cli.open()
    try:
        await SessionService(cli, "cli").create("from-cli", "tides", "en")

        # the watcher looks every 0.5 s; the bound is generous for a loaded 2-core host
        deadline = time.monotonic() + 30
        while "from-cli" not in {i.session_id for i in await server.list_streams()}:
            if time.monotonic() > deadline:
                raise AssertionError("the other process's session was not listed within 30 s")
            await asyncio.sleep(0.05)
        waiting = asyncio.create_task(server.wait("from-cli", 0, timeout=30))
        await LogWriter(cli, "from-cli").status(RunStatus.RUNNING, 10, "Browser")
        assert await waiting is True
        events = await server.read("from-cli", 0)
        assert [e.payload["status"] for e in events] == ["running"]
    finally:
        await cli.close()
        await server.close()
