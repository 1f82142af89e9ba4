"""Fixtures for the research tests: a small hand-written corpus, a memory log, settings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tk9.events import Event, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.projection import project
from tk9.research.runner import run_research
from tk9.settings import Settings
from tk9.state import SessionState

CORPUS: dict[str, str] = {
    "photosynthesis.md": """# Photosynthesis

Photosynthesis is the process by which green plants, algae and some bacteria convert light
energy into chemical energy stored in sugars. The process takes place mainly in the leaves of
plants, inside organelles called chloroplasts. Photosynthesis releases oxygen into the
atmosphere as a by-product of splitting water molecules. Almost all life on Earth depends on
photosynthesis, directly or indirectly, as the source of its food and oxygen.

The overall reaction of photosynthesis combines carbon dioxide and water, using light, to form
glucose and oxygen. Scientists divide photosynthesis into the light-dependent reactions and
the light-independent reactions, often called the Calvin cycle.
""",
    "chlorophyll.md": """# Chlorophyll

Chlorophyll is the green pigment that absorbs light for photosynthesis in plants and algae.
Chlorophyll absorbs mostly blue and red light and reflects green light, which is why leaves
look green. Chlorophyll molecules sit in the thylakoid membranes of the chloroplast, where
they pass the energy of absorbed light to the reaction centres of photosynthesis.
There are several kinds of chlorophyll, of which chlorophyll a and chlorophyll b are the most
common in land plants.
""",
    "calvin-cycle.txt": """The Calvin cycle is the set of light-independent reactions of
photosynthesis that fix carbon dioxide into sugar. The Calvin cycle takes place in the stroma
of the chloroplast and uses the ATP and NADPH made by the light-dependent reactions.
The enzyme RuBisCO captures carbon dioxide from the air and attaches it to a five-carbon sugar
in the first step of the Calvin cycle. Melvin Calvin and his colleagues worked out the cycle in
the 1950s using radioactive carbon as a tracer.
""",
    "light_reactions.md": """# Light-dependent reactions

The light-dependent reactions of photosynthesis happen in the thylakoid membranes of the
chloroplast. In these reactions, light energy splits water molecules and releases oxygen gas.
The energy of light is stored in two carrier molecules, ATP and NADPH, which the Calvin cycle
then uses to build sugar. Photosystem II and photosystem I are the two protein complexes that
capture light in the light-dependent reactions of photosynthesis.
""",
    "history.html": """<html><head><title>History of photosynthesis research</title>
<style>body { color: red }</style></head><body>
<p>Jan van Helmont showed in the seventeenth century that a growing willow tree gained its mass
mostly from water rather than from the soil, an early step in photosynthesis research.</p>
<p>Joseph Priestley discovered in 1771 that a plant could restore air that a burning candle had
used up, which was later understood as the release of oxygen by photosynthesis.</p>
<p>Jan Ingenhousz showed in 1779 that plants need sunlight to restore air, linking light to
photosynthesis for the first time.</p>
<script>alert("not text")</script></body></html>
""",
    "volcano.txt": """A volcano is a rupture in the crust of a planet through which lava,
volcanic ash and gases escape from a magma chamber below the surface. Volcanoes are common
where tectonic plates diverge or converge. Mount Etna in Sicily is one of the most active
volcanoes in Europe and has erupted many times in recorded history.
""",
}


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        corpus_dir=corpus,
        use_wiki_corpus=False,
        max_sections=3,
        log_backend="memory",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def log() -> AsyncIterator[MemoryEventLog]:
    event_log = MemoryEventLog()
    await event_log.open()
    yield event_log
    await event_log.close()


async def new_session(log: MemoryEventLog, subject: str = "photosynthesis") -> str:
    session_id = str(uuid.uuid4())
    await log.create(session_id, {"subject": subject, "language": "es"})
    return session_id


async def all_events(log: MemoryEventLog, session_id: str) -> list[Event]:
    return await log.read(session_id, 0, 100_000)


async def completed_spanish_run(
    log: MemoryEventLog, settings: Settings, out: Path
) -> tuple[SessionState, list[Event]]:
    """A real extractive run on "photosynthesis" in Spanish into ``out``, asserted
    ``completed``: its projected state and its events."""
    session_id = await new_session(log)
    status = await run_research(log, session_id, "photosynthesis", "es", settings, out)
    assert status == RunStatus.COMPLETED
    events = await all_events(log, session_id)
    info = await log.info(session_id)
    return project(session_id, info.epoch, events, info.meta), events
