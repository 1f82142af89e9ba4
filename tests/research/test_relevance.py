"""Off-topic documents never shape a report, and a subject the corpus lacks fails the run.

The corpus here mimics what the offline wiki did to "Tidal energy in Europe": one relevant
article ("Tide", which never says "tidal") among articles whose titles or text share a word
with the subject ("Kinetic energy", "Annelid" with its tidal zones, "Europe"), plus articles
that mention Europe so that, as in a real corpus, "Europe" is a commoner word than "tidal".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tk9.events import EventType, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.documents import Document
from tk9.research.relevance import ON_SUBJECT, Relevance
from tk9.research.runner import run_research
from tk9.research.text import stem
from tk9.settings import Settings

from .conftest import all_events, new_session
from .test_runs import assert_one_terminal_last, final_agents

SUBJECT = "Tidal energy in Europe"


OFF_TOPIC: dict[str, str] = {
    "kinetic-energy.md": """# Kinetic energy

In physics, the kinetic energy of an object is the form of energy that it possesses due to its
motion. The kinetic energy of a body depends on its mass and on the square of its speed.
Work done on a body changes its kinetic energy by the same amount.
""",
    "potential-energy.md": """# Potential energy

Potential energy is the energy held by an object because of its position relative to other
objects. Common types include the gravitational potential energy of an object and the elastic
potential energy of a stretched spring.
""",
    "annelid.md": """# Annelid

Annelids, also known as segmented worms, are animals that comprise the phylum Annelida. The
species have adapted to various ecologies, some in marine environments as distinct as tidal
zones and hydrothermal vents, others in fresh water and moist soil.
""",
    "europe.md": """# Europe

Europe is a continent located entirely in the Northern Hemisphere and mostly in the Eastern
Hemisphere. It is bordered by the Arctic Ocean to the north and the Atlantic Ocean to the west.
The largest countries of Europe by area are Russia, Ukraine and France.
""",
    "france.md": """# France

France is a country in Western Europe with overseas regions and territories. Its capital and
largest city is Paris, on the river Seine, and it has coasts on the Atlantic and the Mediterranean.
""",
    "danube.md": """# Danube

The Danube is the second-longest river in Europe after the Volga. It flows through Central and
Eastern Europe from the Black Forest to the Black Sea, passing through ten countries.
""",
}

TIDE = """# Tide

Tides are the periodic rise and fall of sea level caused by the gravitational forces exerted
by the Moon and the Sun and by the rotation of the Earth. The energy of the tides can be turned
into electricity by barrages and underwater turbines built across estuaries. The tide rises and
falls twice a day on most coasts, and the difference between high and low water is the range.
"""


def _corpus(root: Path, with_tide: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    docs = dict(OFF_TOPIC)
    if with_tide:
        docs["tide.md"] = TIDE
    for name, text in docs.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        corpus_dir=corpus,
        use_wiki_corpus=False,
        max_sections=4,
        log_backend="memory",
        _env_file=None,  # type: ignore[call-arg]
    )


def test_one_snowball_stemmer_keeps_different_words_apart() -> None:
    assert stem("volcanoes") == stem("volcano")
    assert stem("tides") == stem("tide") != stem("tidal")  # related by meaning, not by stem
    assert stem("coral") != stem("core")
    assert stem("romeo") != stem("rome")
    assert stem("press") != stem("pressure")


def test_relevance_keeps_the_article_on_the_subject_and_drops_shared_words() -> None:
    # document frequencies as in a corpus of 10,000 articles: "tidal" is rare, "energy" common
    relevance = Relevance.from_counts(SUBJECT, {"tidal": 16, "energi": 300, "europ": 500}, 10_000)

    def doc(title: str, body: str) -> Document:
        return Document(uri=f"x:{title}", title=title, body=body)

    tidal_power = doc("Tidal power", "Tidal power converts the energy of tidal currents.")
    annelid = doc("Annelid", "Some worms live in tidal zones.")
    kinetic = doc("Kinetic energy", "The energy of motion.")
    assert relevance.score(tidal_power) >= ON_SUBJECT
    assert relevance.score(annelid) < ON_SUBJECT
    assert relevance.score(kinetic) < ON_SUBJECT
    assert relevance.rank([kinetic, annelid, tidal_power]) == [tidal_power]
    assert relevance.unknown == []
    assert Relevance.from_counts("xyzzy tides", {"xyzzy": 0, "tide": 3}, 10).unknown == ["xyzzy"]


def test_a_year_refines_the_subject_without_outweighing_or_failing_it() -> None:
    counts = {"tidal": 16, "energi": 300, "europ": 500, "1999": 4}
    plain = Relevance.from_counts(SUBJECT, counts, 10_000)
    unknown_year = Relevance.from_counts(SUBJECT + " in 2031", counts, 10_000)
    rare_year = Relevance.from_counts(SUBJECT + " 1999", counts, 10_000)
    assert unknown_year.unknown == []
    assert unknown_year.concepts == plain.concepts == rare_year.concepts


async def test_partly_covered_subject_reports_from_the_relevant_article_only(
    log: MemoryEventLog, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path / "corpus", with_tide=True)
    session_id = await new_session(log, SUBJECT)
    out = tmp_path / "out"
    status = await run_research(log, session_id, SUBJECT, "en", _settings(tmp_path, corpus), out)
    # "Tide" says nothing about Europe: a report, but not a plain green one
    assert status == RunStatus.COMPLETED_WITH_WARNINGS
    events = await all_events(log, session_id)
    assert "“Europe”" in " ".join(events[-1].payload["warnings"])
    coverage = [e.payload for e in events if e.event_type == EventType.COVERAGE]
    assert len(coverage) == 1 and 0 < coverage[0]["score"] < 1
    assert [p["phrase"] for p in coverage[0]["phrases"] if not p["covered"]] == ["Europe"]

    agents = final_agents(events)
    assert agents["Browser"][1].startswith("Read 1 source: Tide")
    assert "off-topic" in agents["Browser"][1]
    outline = agents["Editor"][1]
    for off_topic in ("Annelid", "Kinetic energy", "Potential energy", "Europe;"):
        assert off_topic not in outline

    markdown = next(out.glob("*.md")).read_text()
    assert "Tides are the periodic rise and fall of sea level" in markdown
    references = markdown.split("## References", 1)[1]
    assert "Tide" in references
    for off_topic in ("Annelid", "Kinetic energy", "Potential energy", "Europe —"):
        assert off_topic not in references
    assert "_The sources hold no passage about this._" not in markdown
    assert "worms" not in markdown and "motion" not in markdown


@pytest.mark.parametrize(
    ("subject", "unknown"),
    [(SUBJECT, ""), ("xyzzy quantum basket weaving", "no document mentions “xyzzy”")],
)
async def test_subject_the_corpus_lacks_fails_at_the_browser(
    log: MemoryEventLog, tmp_path: Path, subject: str, unknown: str
) -> None:
    corpus = _corpus(tmp_path / "corpus", with_tide=False)
    session_id = await new_session(log, subject)
    out = tmp_path / "out"
    status = await run_research(log, session_id, subject, "es", _settings(tmp_path, corpus), out)
    assert status == RunStatus.FAILED

    events = await all_events(log, session_id)
    assert_one_terminal_last(events, RunStatus.FAILED)
    error = events[-1].payload["error"] or ""
    assert error.startswith(f"Browser failed: the corpus holds nothing about “{subject}”")
    assert unknown in error
    assert "TK9_CORPUS_DIR" in error and "search provider" in error
    agents = final_agents(events)
    assert agents["Browser"][0] == "failed"
    for later in ("Editor", "Researcher", "Writer", "Publisher", "Translator"):
        assert agents[later] == ("skipped", "Skipped: Browser failed")
    assert not any(e.event_type == EventType.FILE_GENERATED for e in events)
    assert not out.exists()


async def test_report_that_would_cite_nothing_fails_at_the_writer(
    log: MemoryEventLog, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tide.md").write_text("# Tide\n\nTides rise.\n", encoding="utf-8")
    (corpus / "europe.md").write_text(OFF_TOPIC["europe.md"], encoding="utf-8")
    session_id = await new_session(log, "tides")
    out = tmp_path / "out"
    status = await run_research(log, session_id, "tides", "en", _settings(tmp_path, corpus), out)
    assert status == RunStatus.FAILED

    events = await all_events(log, session_id)
    assert_one_terminal_last(events, RunStatus.FAILED)
    assert (events[-1].payload["error"] or "").startswith(
        "Writer failed: the sources hold no passage about “tides” to quote"
    )
    agents = final_agents(events)
    assert agents["Publisher"] == ("skipped", "Skipped: Writer failed")
    assert not any(e.event_type == EventType.FILE_GENERATED for e in events)
