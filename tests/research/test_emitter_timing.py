"""What the emitter says on the agents' behalf: the Orchestrator's progress follows the run, and
every agent's start and end is a log line, the end with its duration."""

from __future__ import annotations

import re
from pathlib import Path

from tk9.events import AgentName, EventType, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.runner import run_research
from tk9.settings import Settings

from .conftest import all_events, new_session


async def test_orchestrator_progress_follows_the_run_and_agents_log_start_and_end(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "en", settings, tmp_path / "o")
    assert status == RunStatus.COMPLETED
    events = await all_events(log, session_id)

    overall = [
        e.payload["progress"]
        for e in events
        if e.event_type == EventType.RESEARCH_STATUS and e.payload["status"] == "running"
    ]
    orchestrator = [
        (e.payload["status"], e.payload["progress"], e.payload["message"])
        for e in events
        if e.event_type == EventType.AGENT_UPDATE and e.payload["agent"] == "Orchestrator"
    ]
    running = [p for s, p, _ in orchestrator if s == "running"]
    assert running == sorted(running), "the Orchestrator's progress never goes back"
    assert max(running) == max(overall) > 50
    assert any(m.startswith("Writer: ") for _, _, m in orchestrator)

    lines = [e.payload["message"] for e in events if e.event_type == EventType.LOG]
    ran = [a for a in AgentName if a != AgentName.TRANSLATOR]  # English needs no translation
    for agent in ran:
        assert f"{agent.value} started" in lines
        assert any(re.match(rf"{agent.value} completed in \d+\.\d s", m) for m in lines), agent
    assert any(m.startswith("Translator skipped: ") for m in lines)

    # every new message of a running agent is in the log too, at debug level, once
    debug = [
        (e.payload["agent"], e.payload["message"])
        for e in events
        if e.event_type == EventType.LOG and e.payload["level"] == "debug"
    ]
    said = [
        (e.payload["agent"], e.payload["message"])
        for e in events
        if e.event_type == EventType.AGENT_UPDATE
        and e.payload["status"] == "running"
        and e.payload["message"]
    ]
    assert debug and set(debug) <= set(said)
    assert {s for s in said if s[0] != "Orchestrator"} <= set(debug)
    assert len(debug) < len(said), "a repeated message is not logged again"
