"""The Translator's paths (Apertium, the LLM, an explicit skip that warns) and the per-language
routes the dashboard and the CLI announce before a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tk9.events import Event, EventType, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.languages import LANGUAGE_NAMES
from tk9.research.runner import run_research
from tk9.research.translate import (
    ApertiumTranslator,
    apertium_mode,
    apertium_pairs,
    choose_translator,
    parse_apertium_list,
    translation_routes,
)
from tk9.settings import Settings

from .conftest import all_events, new_session

BOOKWORM_LISTING = """\
  cat-eng
  en-eo-bytecode
  en-eo
  en-gl
  eng-cat
  eng-cat_valencia
  eng-hbs
  eng-hbs_SR
  eng-spa
  eo-en
  gl-en
  hbs-eng
  spa-eng
"""
"""``apertium -l`` with the English pairs of Debian bookworm installed (and apertium-hbs-eng)."""


class EchoLLM:
    name = "llm"

    async def translate(self, markdown: str, source: str, target: str) -> str:
        return markdown


def test_routes_from_a_listing_find_both_mode_naming_schemes() -> None:
    modes = parse_apertium_list(BOOKWORM_LISTING)
    assert "eng-spa" in modes and "en-gl" in modes and "" not in modes
    routes = translation_routes("en", modes, llm_configured=False)
    assert set(routes) == set(LANGUAGE_NAMES)
    offline = {c: r.mode for c, r in routes.items() if r.method == "apertium"}
    assert offline == {"es": "eng-spa", "ca": "eng-cat", "gl": "en-gl", "eo": "en-eo"}
    assert routes["en"].method == "source"
    assert routes["ca"].how == "Apertium eng-cat" and routes["ca"].name == "Catalan"


def test_a_language_without_a_pair_is_none_with_the_warning_people_read() -> None:
    routes = translation_routes("en", parse_apertium_list(BOOKWORM_LISTING), False)
    for code in ("fr", "de", "vi"):
        assert routes[code].method == "none" and routes[code].mode is None
    assert routes["fr"].how.startswith(
        "No offline translator for French (fr): the report will be in English only."
    )
    assert "TK9_ENGINE=llm" in routes["de"].how


def test_the_word_for_word_eng_hbs_mode_is_not_offered_as_a_translation() -> None:
    modes = parse_apertium_list(BOOKWORM_LISTING)
    for code in ("sr", "hr", "bs"):
        assert apertium_mode("en", code, modes) is None


def test_with_an_llm_every_language_is_reachable_and_apertium_still_leads() -> None:
    routes = translation_routes("en", parse_apertium_list(BOOKWORM_LISTING), True)
    assert {r.method for r in routes.values()} == {"source", "apertium", "llm"}
    assert routes["es"].method == "apertium" and routes["fr"].method == "llm"


def test_no_apertium_at_all_leaves_only_the_source_language() -> None:
    routes = translation_routes("en", parse_apertium_list(""), False)
    assert [c for c, r in routes.items() if r.method != "none"] == ["en"]


async def test_apertium_translates_markdown_and_keeps_its_structure() -> None:
    assert "eng-spa" in await apertium_pairs()  # installed by scripts/install-sysdeps.sh
    translator, chosen = await choose_translator("en", "es", None)
    assert isinstance(translator, ApertiumTranslator) and chosen.how == "Apertium eng-spa"
    text = "# The green leaf\n\n## Introduction\n\nPlants make sugar from light [1].\n"
    out = await translator.translate(text, "en", "es")
    assert out.startswith("# ") and "\n## " in out and "[1]" in out
    assert "La hoja verde" in out and "Introducción" in out and "Plants" not in out


@pytest.mark.parametrize(
    ("target", "mode", "expected"),
    [("ca", "eng-cat", "ciutat vella"), ("gl", "en-gl", "cidade vella"), ("eo", "en-eo", "urbo")],
)
async def test_every_installed_english_pair_really_translates(
    target: str, mode: str, expected: str
) -> None:
    """Each pair install-sysdeps.sh installs, end to end through the installed mode."""
    translator, chosen = await choose_translator("en", target, None)
    assert isinstance(translator, ApertiumTranslator) and chosen.mode == mode
    out = await translator.translate("The river flows through the old city.\n", "en", target)
    assert expected in out and "flows" not in out


async def test_apertium_is_preferred_over_the_llm_when_the_pair_exists() -> None:
    translator, _ = await choose_translator("en", "es", EchoLLM())
    assert isinstance(translator, ApertiumTranslator)


async def test_llm_translates_pairs_apertium_lacks() -> None:
    llm = EchoLLM()
    translator, chosen = await choose_translator("en", "vi", llm)
    assert translator is llm and chosen.how == "the configured language model"


async def test_no_translator_means_skipped_and_a_warned_run_without_a_copy(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    translator, chosen = await choose_translator("en", "vi", None)
    assert translator is None and chosen.method == "none"
    session_id = await new_session(log)
    out = tmp_path / "o"
    status = await run_research(log, session_id, "photosynthesis", "vi", settings, out)
    assert status == RunStatus.COMPLETED_WITH_WARNINGS
    events = await all_events(log, session_id)
    last = _translator_updates(events)[-1]
    assert last["status"] == "skipped"
    assert last["message"].startswith("No offline translator for Vietnamese (vi): the report is")
    logged = [e.payload for e in events if e.event_type == EventType.LOG]
    assert any(p["level"] == "warning" and p["agent"] == "Translator" for p in logged)
    final = [e.payload for e in events if e.event_type == EventType.RESEARCH_STATUS][-1]
    assert final["status"] == "completed_with_warnings"
    assert any(w.startswith("No offline translator for Vietnamese") for w in final["warnings"])
    files = [e.payload for e in events if e.event_type == EventType.FILE_GENERATED]
    assert {f["language"] for f in files} == {"en"} and len(files) == 3
    assert not list(out.glob("*.vi.*"))


async def test_a_catalan_run_publishes_a_real_catalan_report(
    log: MemoryEventLog, settings: Settings, tmp_path: Path
) -> None:
    session_id = await new_session(log)
    out = tmp_path / "o"
    status = await run_research(log, session_id, "photosynthesis", "ca", settings, out)
    events = await all_events(log, session_id)
    final = [e.payload for e in events if e.event_type == EventType.RESEARCH_STATUS][-1]
    assert not any("translator" in w.lower() for w in final["warnings"])
    assert status in (RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_WARNINGS)
    last = _translator_updates(events)[-1]
    assert last["status"] == "completed"
    assert last["message"] == "Translated into Catalan with Apertium eng-cat"
    (catalan,) = out.glob("*.ca.md")
    text = catalan.read_text(encoding="utf-8")
    assert "fotosíntesi" in text.lower() and "[1]" in text


def _translator_updates(events: list[Event]) -> list[dict[str, Any]]:
    return [
        e.payload
        for e in events
        if e.event_type == EventType.AGENT_UPDATE and e.payload["agent"] == "Translator"
    ]


def test_apertium_works_under_uvloop() -> None:
    """uvicorn runs on uvloop, where a child's stdin is a socket: the text must still arrive."""
    import uvloop

    async def translate() -> str:
        return await ApertiumTranslator("eng-spa").translate("The plants need light.\n", "en", "es")

    out = uvloop.run(translate())
    assert "plantas" in out.lower()
