"""The report's appendix "How this report was made": the agents' timeline, read from the log."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
from pypdf import PdfReader

from tk9.events import AGENTS, AgentName, AgentStatus, EventType, FileKind
from tk9.log.memory import MemoryEventLog
from tk9.research.appendix import HEADING, timeline_markdown
from tk9.settings import Settings
from tk9.state import AgentState, SessionState

from .conftest import completed_spanish_run

_LINE = re.compile(r"^- \*\*(\w+)\*\*: (.*)$")


def _appendix(markdown: str) -> dict[str, str]:
    """Agent → its line in the appendix (the appendix is the file's last section)."""
    head, _, tail = markdown.partition(f"\n## {HEADING}\n")
    assert tail, "no appendix"
    assert "\n## " not in tail
    assert re.match(r"\d+\. .* — ", head.rstrip().splitlines()[-1])  # after the references
    return {m.group(1): m.group(2) for m in map(_LINE.match, tail.splitlines()) if m}


def _finished(agent: AgentState, origin: float) -> str:
    assert agent.started_at is not None and agent.finished_at is not None
    start, end = agent.started_at - origin, agent.finished_at - origin
    took = agent.finished_at - agent.started_at
    return f"{agent.status.value}, {start:.1f} s → {end:.1f} s (took {took:.1f} s)"


async def test_each_file_lists_the_seven_agents_times_as_the_log_has_them(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    state, events = await completed_spanish_run(log, settings, out)
    agents = state.agents
    origin = min(a.started_at for a in agents.values() if a.started_at is not None)
    assert origin == agents[AgentName.ORCHESTRATOR].started_at
    md = {f.language: out / f.name for f in state.files if f.kind == FileKind.MD}

    english = _appendix(md["en"].read_text())
    assert list(english) == [a.value for a in AGENTS]  # all seven, in pipeline order
    assert english["Orchestrator"] == "running since 0.0 s"
    for name in (AgentName.BROWSER, AgentName.EDITOR, AgentName.RESEARCHER, AgentName.WRITER):
        assert agents[name].status == AgentStatus.COMPLETED
        assert english[name.value] == _finished(agents[name], origin)
    publisher = agents[AgentName.PUBLISHER]
    assert publisher.started_at is not None
    start = publisher.started_at - origin
    assert english["Publisher"] == f"running since {start:.1f} s (writing this file)"
    assert english["Translator"] == "not started yet"

    # the translation's appendix is as of its own writing: the Publisher had finished
    spanish = _appendix(md["es"].read_text())
    assert spanish["Publisher"] == _finished(publisher, origin)
    assert spanish["Translator"].startswith("running since ")
    assert spanish["Translator"].endswith("(writing this file)")

    # the same text in the PDF and the DOCX built from that Markdown
    pdf_name = next(f.name for f in state.files if f.kind == FileKind.PDF and f.language == "en")
    pdf_text = " ".join(p.extract_text() for p in PdfReader(out / pdf_name).pages)
    assert HEADING in pdf_text and "(writing this file)" in pdf_text
    docx_name = next(f.name for f in state.files if f.kind == FileKind.DOCX and f.language == "en")
    paragraphs = [
        p.text for p in docx.Document(io.BytesIO((out / docx_name).read_bytes())).paragraphs
    ]
    assert HEADING in paragraphs
    assert f"Writer: {_finished(agents[AgentName.WRITER], origin)}" in paragraphs

    # the times are those of the agent_update events, not measured apart from the log
    writer_updates = [
        e.timestamp
        for e in events
        if e.event_type == EventType.AGENT_UPDATE and e.payload["agent"] == "Writer"
    ]
    assert agents[AgentName.WRITER].started_at == writer_updates[0]
    assert agents[AgentName.WRITER].finished_at == writer_updates[-1]


def test_an_agent_skipped_without_running_and_a_run_not_started() -> None:
    state = SessionState(session_id="s")
    assert "No agent had started" in timeline_markdown(state, AgentName.PUBLISHER)
    state.agents[AgentName.ORCHESTRATOR] = AgentState(status=AgentStatus.RUNNING, started_at=100.0)
    state.agents[AgentName.TRANSLATOR] = AgentState(status=AgentStatus.SKIPPED, finished_at=112.25)
    lines = _appendix("1. A — <x>\n\n" + timeline_markdown(state, AgentName.PUBLISHER))
    assert lines["Translator"] == "skipped at 12.2 s"
    assert lines["Browser"] == "not started yet"
    assert "1970-01-01 00:01:40 UTC" in timeline_markdown(state, AgentName.PUBLISHER)
