"""The Translator's three paths: Apertium, the LLM, and an explicit skip with the reason."""

from __future__ import annotations

from pathlib import Path

from tk9.events import EventType, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.runner import run_research
from tk9.research.translate import ApertiumTranslator, apertium_pairs, choose_translator
from tk9.settings import Settings

from .conftest import all_events, new_session


class EchoLLM:
    name = "llm"

    async def translate(self, markdown: str, source: str, target: str) -> str:
        return markdown


async def test_apertium_translates_markdown_and_keeps_its_structure() -> None:
    assert "eng-spa" in await apertium_pairs()  # installed by scripts/install-sysdeps.sh
    translator, how = await choose_translator("en", "es", None)
    assert isinstance(translator, ApertiumTranslator) and how == "Apertium eng-spa"
    text = "# The green leaf\n\n## Introduction\n\nPlants make sugar from light [1].\n"
    out = await translator.translate(text, "en", "es")
    assert out.startswith("# ") and "\n## " in out and "[1]" in out
    assert "La hoja verde" in out and "Introducción" in out and "Plants" not in out


async def test_apertium_is_preferred_over_the_llm_when_the_pair_exists() -> None:
    translator, _ = await choose_translator("en", "es", EchoLLM())
    assert isinstance(translator, ApertiumTranslator)


async def test_llm_translates_pairs_apertium_lacks() -> None:
    llm = EchoLLM()
    translator, how = await choose_translator("en", "vi", llm)
    assert translator is llm and how == "the configured language model"


async def test_no_translator_means_skipped_with_the_reason_and_no_copy(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    assert await choose_translator("en", "vi", None) == (None, "no translator for en→vi")
    session_id = await new_session(log)
    out = tmp_path / "o"
    status = await run_research(log, session_id, "photosynthesis", "vi", settings, out)
    assert status == RunStatus.COMPLETED
    events = await all_events(log, session_id)
    last = [e.payload for e in events if e.payload.get("agent") == "Translator"][-1]
    assert last["status"] == "skipped" and last["message"] == "No translator for en→vi"
    files = [e.payload for e in events if e.event_type == EventType.FILE_GENERATED]
    assert {f["language"] for f in files} == {"en"} and len(files) == 3
    assert not list(out.glob("*.vi.*"))


def test_apertium_works_under_uvloop() -> None:
    """uvicorn runs on uvloop, where a child's stdin is a socket: the text must still arrive."""
    import uvloop

    async def translate() -> str:
        return await ApertiumTranslator("eng-spa").translate("The plants need light.\n", "en", "es")

    out = uvloop.run(translate())
    assert "plantas" in out.lower()
