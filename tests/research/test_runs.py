"""The terminal-status rule, failures, cancel, shutdown, crash recovery and the run limit."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from tk9.events import (
    AGENTS,
    TERMINAL_RUN_STATUSES,
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    Event,
    EventType,
    ResearchStatusPayload,
    RunStatus,
)
from tk9.log.base import append_payload
from tk9.log.memory import MemoryEventLog
from tk9.log.sqlite import SqliteEventLog
from tk9.research.runner import RunManager, run_research
from tk9.settings import Settings

from .conftest import all_events, new_session
from .recording import HookedLog


def final_agents(events: list[Event]) -> dict[str, tuple[str, str]]:
    last: dict[str, tuple[str, str]] = {}
    for e in events:
        if e.event_type == EventType.AGENT_UPDATE:
            last[e.payload["agent"]] = (e.payload["status"], e.payload["message"])
    return last


def run_statuses(events: list[Event]) -> list[str]:
    return [e.payload["status"] for e in events if e.event_type == EventType.RESEARCH_STATUS]


def assert_one_terminal_last(events: list[Event], expected: RunStatus) -> None:
    statuses = run_statuses(events)
    assert [s for s in statuses if s in TERMINAL_RUN_STATUSES] == [expected.value]
    assert statuses[-1] == expected.value
    assert events[-1].event_type == EventType.RESEARCH_STATUS


async def test_subject_with_no_source_fails_at_the_browser_and_skips_the_rest(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    session_id = await new_session(log)
    status = await run_research(
        log, session_id, "quantum chromodynamics", "es", settings, tmp_path / "o"
    )
    assert status == RunStatus.FAILED
    events = await all_events(log, session_id)
    assert_one_terminal_last(events, RunStatus.FAILED)
    assert "Browser failed" in (events[-1].payload["error"] or "")
    assert "quantum chromodynamics" in events[-1].payload["error"]
    agents = final_agents(events)
    assert agents["Browser"][0] == "failed"
    assert agents["Orchestrator"][0] == "failed"
    for later in ("Editor", "Researcher", "Writer", "Publisher", "Translator"):
        assert agents[later] == ("skipped", "Skipped: Browser failed")
    assert any(e.event_type == EventType.ERROR for e in events)
    assert not (tmp_path / "o").exists()


async def test_publisher_failure_fails_the_run_and_skips_the_translator(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "es", settings, blocker)
    assert status == RunStatus.FAILED
    events = await all_events(log, session_id)
    assert_one_terminal_last(events, RunStatus.FAILED)
    agents = final_agents(events)
    assert [agents[a][0] for a in ("Browser", "Editor", "Researcher", "Writer")] == [
        "completed"
    ] * 4
    assert agents["Publisher"][0] == "failed"
    assert agents["Translator"] == ("skipped", "Skipped: Publisher failed")
    assert not [e for e in events if e.event_type == EventType.FILE_GENERATED]


async def test_unreadable_document_is_reported_and_the_run_goes_on(
    log: MemoryEventLog, settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00 not utf-8 \xc3\x28")
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "en", settings, tmp_path / "o")
    assert status == RunStatus.COMPLETED
    errors = [e.payload for e in await all_events(log, session_id) if e.event_type == "error"]
    assert errors and errors[0]["code"] == "unreadable_document"
    assert "broken.txt" in errors[0]["message"] and "UTF-8" in errors[0]["message"]


async def test_cancel_event_ends_the_run_cancelled(settings: Settings, tmp_path: Path) -> None:
    cancel = asyncio.Event()

    async def hook(session_id: str, event_type: EventType, payload: dict[str, Any]) -> None:
        if payload.get("agent") == "Researcher" and payload.get("status") == "running":
            cancel.set()

    log = HookedLog(MemoryEventLog(), hook)
    await log.open()
    session_id = await new_session(log)  # type: ignore[arg-type]
    out = tmp_path / "o"
    status = await run_research(log, session_id, "photosynthesis", "es", settings, out, cancel)
    assert status == RunStatus.CANCELLED
    events = await log.read(session_id, 0, 10_000)
    assert_one_terminal_last(events, RunStatus.CANCELLED)
    agents = final_agents(events)
    assert agents["Browser"][0] == agents["Editor"][0] == "completed"
    for agent in ("Orchestrator", "Researcher", "Writer", "Publisher", "Translator"):
        assert agents[agent][0] == "skipped", agent
    assert not out.exists()


async def test_task_cancellation_also_ends_cancelled_and_propagates(
    settings: Settings, tmp_path: Path
) -> None:
    reached = asyncio.Event()

    async def hook(session_id: str, event_type: EventType, payload: dict[str, Any]) -> None:
        if payload.get("agent") == "Editor" and payload.get("status") == "running":
            reached.set()
            await asyncio.Event().wait()  # park here until cancelled

    log = HookedLog(MemoryEventLog(), hook)
    session_id = await new_session(log)  # type: ignore[arg-type]
    task = asyncio.create_task(
        run_research(log, session_id, "photosynthesis", "es", settings, tmp_path / "o")
    )
    await asyncio.wait_for(reached.wait(), 30)
    log.hook = _no_hook
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = await log.read(session_id, 0, 10_000)
    assert_one_terminal_last(events, RunStatus.CANCELLED)


async def _no_hook(session_id: str, event_type: EventType, payload: dict[str, Any]) -> None:
    return None


async def test_files_are_announced_only_when_complete_on_disk(
    settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    checked: list[str] = []

    async def hook(session_id: str, event_type: EventType, payload: dict[str, Any]) -> None:
        if event_type == EventType.FILE_GENERATED:
            data = (out / payload["name"]).read_bytes()
            assert len(data) == payload["size_bytes"]
            assert hashlib.sha256(data).hexdigest() == payload["sha256"]
            assert not [p for p in out.iterdir() if p.name.startswith(".")]
            checked.append(payload["name"])

    log = HookedLog(MemoryEventLog(), hook)
    session_id = await new_session(log)  # type: ignore[arg-type]
    status = await run_research(log, session_id, "photosynthesis", "es", settings, out)
    assert status == RunStatus.COMPLETED
    assert len(checked) == 6 == len(set(checked))


async def test_run_limit_queues_extra_runs_as_pending(
    log: MemoryEventLog, settings: Settings
) -> None:
    limited = settings.model_copy(update={"max_concurrent_runs": 1})
    manager = RunManager(log, limited)
    first, second = await new_session(log), await new_session(log)
    manager.start(first, "photosynthesis", "en")
    manager.start(second, "chlorophyll", "en")
    assert set(manager.active()) == {first, second}
    assert await manager.wait(first) == RunStatus.COMPLETED
    assert await manager.wait(second) == RunStatus.COMPLETED
    a, b = await all_events(log, first), await all_events(log, second)
    assert run_statuses(b)[0] == "pending"
    assert "Waiting for a free slot" in b[0].payload["stage"]
    second_running = next(e for e in b if e.payload.get("status") == "running")
    first_done = a[-1]
    assert first_done.timestamp <= second_running.timestamp
    assert manager.active() == []
    assert (limited.outputs_dir / first).is_dir()


async def test_cancel_a_queued_run_and_unknown_ids(log: MemoryEventLog, settings: Settings) -> None:
    manager = RunManager(log, settings.model_copy(update={"max_concurrent_runs": 1}))
    first, second = await new_session(log), await new_session(log)
    manager.start(first, "photosynthesis", "en")
    manager.start(second, "chlorophyll", "en")
    assert await manager.cancel(second) is True
    assert await manager.wait(second) == RunStatus.CANCELLED
    assert await manager.wait(first) == RunStatus.COMPLETED
    assert await manager.cancel(first) is False and await manager.cancel("nope") is False
    events = await all_events(log, second)
    assert_one_terminal_last(events, RunStatus.CANCELLED)
    assert {s for s, _ in final_agents(events).values()} == {"skipped"}


async def test_shutdown_interrupts_live_runs(log: MemoryEventLog, settings: Settings) -> None:
    manager = RunManager(log, settings)
    session_id = await new_session(log)
    manager.start(session_id, "photosynthesis", "es")
    await manager.shutdown()
    events = await all_events(log, session_id)
    assert_one_terminal_last(events, RunStatus.INTERRUPTED)
    assert manager.active() == []


async def test_crash_then_restart_marks_the_run_interrupted(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "log.sqlite3"
    before = SqliteEventLog(path)
    await before.open()
    crashed, finished = await new_session(before), await new_session(before)  # type: ignore[arg-type]
    for payload in (
        ResearchStatusPayload(status=RunStatus.RUNNING, progress=30, stage="Researcher"),
        AgentUpdatePayload(agent=AgentName.ORCHESTRATOR, status=AgentStatus.RUNNING),
        AgentUpdatePayload(agent=AgentName.BROWSER, status=AgentStatus.COMPLETED),
        AgentUpdatePayload(agent=AgentName.EDITOR, status=AgentStatus.COMPLETED),
        AgentUpdatePayload(agent=AgentName.RESEARCHER, status=AgentStatus.RUNNING),
    ):
        await append_payload(before, crashed, payload)
    await append_payload(
        before, finished, ResearchStatusPayload(status=RunStatus.COMPLETED, progress=100)
    )
    await before.close()  # the process dies here; nothing else is written

    after = SqliteEventLog(path)
    await after.open()
    manager = RunManager(after, settings)
    assert await manager.mark_interrupted() == [crashed]
    assert await manager.mark_interrupted() == []  # idempotent
    events = await after.read(crashed, 0, 1000)
    assert_one_terminal_last(events, RunStatus.INTERRUPTED)
    assert events[-1].payload["progress"] == 30
    agents = final_agents(events)
    assert agents["Researcher"][0] == "failed" and agents["Orchestrator"][0] == "failed"
    assert agents["Writer"][0] == agents["Translator"][0] == "skipped"
    assert agents["Browser"][0] == "completed"
    assert len(await after.read(finished, 0, 1000)) == 1
    assert set(agents) == {a.value for a in AGENTS}
    await after.close()
