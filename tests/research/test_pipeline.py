"""The whole pipeline, offline, on a small corpus built by the test."""

from __future__ import annotations

import io
from pathlib import Path

import docx
from pypdf import PdfReader

from tk9.events import (
    AGENTS,
    TERMINAL_RUN_STATUSES,
    AgentName,
    AgentStatus,
    EventType,
    FileKind,
    RunStatus,
)
from tk9.log.memory import MemoryEventLog
from tk9.projection import project
from tk9.research.runner import run_research
from tk9.settings import Settings

from .conftest import all_events, new_session


async def test_full_pipeline_english_and_spanish(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    session_id = await new_session(log)
    out = tmp_path / "out" / session_id
    status = await run_research(log, session_id, "photosynthesis", "es", settings, out)
    assert status == RunStatus.COMPLETED

    events = await all_events(log, session_id)
    info = await log.info(session_id)
    state = project(session_id, info.epoch, events, info.meta)
    assert state.status == RunStatus.COMPLETED and state.progress == 100
    assert {a: s.status for a, s in state.agents.items()} == {
        a: AgentStatus.COMPLETED for a in AGENTS
    }

    # exactly one terminal status, and it is the last research_status
    statuses = [e.payload["status"] for e in events if e.event_type == EventType.RESEARCH_STATUS]
    assert [s for s in statuses if s in TERMINAL_RUN_STATUSES] == ["completed"]
    assert statuses[-1] == "completed"

    files = {(f.language, f.kind): f for f in state.files}
    assert set(files) == {(lang, kind) for lang in ("en", "es") for kind in FileKind} - {
        ("en", FileKind.HTML),
        ("es", FileKind.HTML),
    }
    for f in state.files:
        assert f.path == f"/api/sessions/{session_id}/files/{f.name}"
        assert (out / f.name).stat().st_size == f.size_bytes
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left

    english = (out / files[("en", FileKind.MD)].name).read_text()
    spanish = (out / files[("es", FileKind.MD)].name).read_text()
    assert english.startswith("# Photosynthesis")
    assert "extractive" in english and "## References" in english and "[1]" in english
    assert "fotosíntesis" in spanish.lower()
    assert spanish.count("\n## ") == english.count("\n## ")
    assert "volcano" not in english.lower()  # the relevance cutoff keeps the report on subject

    pdf = PdfReader(out / files[("en", FileKind.PDF)].name)
    assert len(pdf.pages) >= 1 and "Photosynthesis" in pdf.pages[0].extract_text()
    word = docx.Document(io.BytesIO((out / files[("es", FileKind.DOCX)].name).read_bytes()))
    assert any("fotosíntesis" in p.text.lower() for p in word.paragraphs)


async def test_every_agent_reports_running_then_a_final_status(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    session_id = await new_session(log)
    await run_research(log, session_id, "photosynthesis", "en", settings, tmp_path / "o")
    events = await all_events(log, session_id)
    per_agent: dict[AgentName, list[str]] = {a: [] for a in AGENTS}
    for e in events:
        if e.event_type == EventType.AGENT_UPDATE:
            per_agent[AgentName(e.payload["agent"])].append(e.payload["status"])
    for agent in AGENTS:
        if agent == AgentName.TRANSLATOR:
            assert per_agent[agent] == ["skipped"]  # English → English
            continue
        seq = per_agent[agent]
        assert seq[0] == "running" and seq[-1] == "completed", (agent, seq)
        assert set(seq[:-1]) == {"running"}
    translator = [
        e.payload["message"]
        for e in events
        if e.event_type == EventType.AGENT_UPDATE and e.payload["agent"] == "Translator"
    ]
    assert "source language" in translator[0]
