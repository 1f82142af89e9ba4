"""What the Editor, Writer and Translator worked on, emitted as structured ``work`` on their
``completed`` updates and kept by the projection (the agent panel shows it)."""

from __future__ import annotations

import re
from pathlib import Path

from tk9.events import AgentName, FileKind, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.projection import project
from tk9.research.runner import run_research
from tk9.research.text import words
from tk9.settings import Settings

from .conftest import all_events, new_session


async def test_outline_sections_with_word_counts_and_translation_engine(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    session_id = await new_session(log)
    out = tmp_path / "out"
    status = await run_research(log, session_id, "photosynthesis", "es", settings, out)
    assert status == RunStatus.COMPLETED
    info = await log.info(session_id)
    state = project(session_id, info.epoch, await all_events(log, session_id), info.meta)
    english = next(f for f in state.files if f.kind == FileKind.MD and f.language == "en")
    markdown = (out / english.name).read_text()
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    bodies = dict(zip(parts[1::2], parts[2::2], strict=True))
    headings = list(bodies)
    sections = headings[headings.index("Introduction") + 1 : headings.index("Conclusion")]

    editor = state.agents[AgentName.EDITOR].work
    assert editor is not None and set(sections) <= set(editor.outline)  # the Writer may drop one
    writer = state.agents[AgentName.WRITER].work
    assert writer is not None
    assert [s.heading for s in writer.sections] == ["Introduction", *sections, "Conclusion"]
    for section in writer.sections:  # the count of the words the report holds there
        assert section.words == len(words(bodies[section.heading])) > 0
    translator = state.agents[AgentName.TRANSLATOR].work
    assert translator is not None and translator.language == "es"
    assert translator.engine.startswith("Apertium")
    assert state.agents[AgentName.BROWSER].work is None
