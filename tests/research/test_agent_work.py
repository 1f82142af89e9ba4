"""What the Editor, Writer and Translator worked on, emitted as structured ``work`` on their
``completed`` updates and kept by the projection (the agent panel shows it)."""

from __future__ import annotations

import re
from pathlib import Path

from tk9.events import AgentName, FileKind
from tk9.log.memory import MemoryEventLog
from tk9.research.text import words
from tk9.settings import Settings

from .conftest import completed_spanish_run


async def test_outline_sections_with_word_counts_and_translation_engine(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    state, _ = await completed_spanish_run(log, settings, out)
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
