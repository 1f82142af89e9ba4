"""A report is as long as its evidence allows, quotes nothing twice, and keeps off what only
compares itself with the subject (issue 8, items 4 and 5)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tk9.events import RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.compose import compose, prose_words, render
from tk9.research.documents import Document
from tk9.research.mentions import broader, holds_qualifiers, only_compared, qualifiers
from tk9.research.outline import distinctive_phrase
from tk9.research.relevance import judge, marginal
from tk9.research.runner import run_research
from tk9.research.semantic import lexical
from tk9.research.sentences import is_anaphoric
from tk9.research.subject import parse, required, weighted
from tk9.settings import Settings

from .conftest import new_session

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from quality_metrics import prose_words as prose_words_of

TIDAL: dict[str, str] = {
    "Tidal power": (
        "Tidal power is a form of hydropower that converts the energy of the tides into "
        "electricity. Tidal power is predictable, because the tides follow the orbit of the "
        "Moon around the Earth and can be forecast years in advance. Tidal power stations are "
        "built in estuaries and straits where the range between high and low water is large. "
        "Although tidal power has been used for centuries in tide mills, large tidal power "
        "stations for electricity were first built in the twentieth century. The total tidal "
        "power that could be harvested worldwide is estimated at about one terawatt."
    ),
    "Tidal barrage": (
        "A tidal barrage is a dam built across an estuary to capture tidal power. At high tide "
        "the tidal barrage lets the sea fill a basin behind it through sluice gates. When the "
        "tide falls, the water held by the tidal barrage flows back to the sea through "
        "turbines that generate electricity. A tidal barrage changes the flow of sediment and "
        "the habitat of wading birds in the estuary it closes. Building a tidal barrage is "
        "expensive, but a tidal barrage can produce tidal power for a century or more."
    ),
    "Tidal stream generator": (
        "A tidal stream generator is a machine that extracts tidal power from moving water, "
        "much as a wind turbine extracts power from moving air. A tidal stream generator sits "
        "on the sea floor in a channel where tidal currents are fast. Because water is far "
        "denser than air, a tidal stream generator with small blades produces as much tidal "
        "power as a much larger wind turbine. Arrays of tidal stream generators have run off "
        "the coasts of Scotland and France since the 2010s."
    ),
    "Rance Tidal Power Station": (
        "The Rance Tidal Power Station in Brittany was the first large tidal power station in "
        "the world. The Rance Tidal Power Station opened in 1966 with a barrage across the "
        "estuary of the river Rance. Its twenty-four turbines give the Rance Tidal Power "
        "Station a peak output of 240 megawatts of tidal power. For forty-five years the "
        "Rance Tidal Power Station was the largest tidal power station on Earth. The tidal "
        "power it produces supplies the electricity of a town of about two hundred thousand "
        "people."
    ),
    "Sihwa Lake Tidal Power Station": (
        "The Sihwa Lake Tidal Power Station in South Korea is the largest tidal power station "
        "in the world. The Sihwa Lake Tidal Power Station uses a seawall built in 1994 to "
        "protect farmland and later adapted to make tidal power. The Sihwa Lake Tidal Power "
        "Station has a capacity of 254 megawatts of tidal power from ten turbines. Letting "
        "the tides through the seawall to make tidal power also improved the water quality "
        "of the lake behind it."
    ),
    "Tidal lagoon": (
        "A tidal lagoon is a walled basin built along a coast to make tidal power without "
        "closing an estuary. A tidal lagoon fills and empties through turbines as the tide "
        "rises and falls, so a tidal lagoon makes tidal power on both the flood and the ebb. "
        "A tidal lagoon proposed for Swansea Bay in Wales would have been the first of its "
        "kind. Supporters of the tidal lagoon said that tidal power from the lagoon would last "
        "far longer than a nuclear power station."
    ),
    "Tide mill": (
        "A tide mill is a water mill driven by the rise and fall of the tide, the oldest use "
        "of tidal power. A tide mill stores water in a pond at high tide and lets it run "
        "through a water wheel as the tide goes out. Tide mills were used in Europe from the "
        "Middle Ages to grind grain with tidal power. The Eling Tide Mill in England is one "
        "of the few tide mills still making flour with tidal power today."
    ),
    "Environmental impact of tidal power": (
        "The environmental impact of tidal power depends on how the tidal power is captured. "
        "A barrage that produces tidal power changes the salinity and the turbidity of the "
        "water behind it. Fish can be hurt by the turbines of tidal power stations, although "
        "slow-turning turbines reduce the harm. Tidal power emits no greenhouse gases while "
        "running, which makes tidal power attractive as a source of low-carbon electricity."
    ),
    "Economics of tidal power": (
        "The economics of tidal power are dominated by the high cost of construction. Once "
        "built, a station that makes tidal power has low running costs and a very long life. "
        "The price of tidal power from tidal stream generators fell sharply during the 2010s "
        "as more machines were deployed. Governments in the United Kingdom and France have "
        "offered guaranteed prices to encourage investment in tidal power."
    ),
    "Tidal range": (
        "The tidal range is the difference in height between high tide and low tide, and it "
        "decides how much tidal power a site can give. The Bay of Fundy in Canada has the "
        "largest tidal range in the world, about sixteen metres. Tidal power from a barrage "
        "grows with the square of the tidal range, so only a few coasts suit tidal power "
        "barrages. The Severn Estuary in Britain has the second largest tidal range and has "
        "long been studied for tidal power."
    ),
}


def doc(title: str, body: str) -> Document:
    return Document(f"https://example.org/{title.replace(' ', '_')}", title, body)


def test_a_corpus_with_ten_relevant_documents_gives_a_full_report_without_repeats() -> None:
    docs = [doc(t, b) for t, b in TIDAL.items()]
    plan = compose(parse("Tidal power"), docs, lexical(), 5)
    parts = [render(plan.introduction), *(render(g) for _, g in plan.sections)]
    parts.append(render(plan.key_points))
    words = sum(prose_words(p) for p in parts)
    assert 800 <= words <= 1500, words
    assert len(plan.sections) >= 3
    quoted = [
        s.text
        for u in [*plan.introduction, *(u for _, g in plan.sections for u in g), *plan.key_points]
        for s in u.sentences
    ]
    assert len(quoted) == len(set(quoted)), "a sentence is quoted twice"
    # every source is cited at least once
    cited = {s.source for u in plan.introduction for s in u.sentences}
    cited |= {s.source for _, g in plan.sections for u in g for s in u.sentences}
    cited |= {s.source for u in plan.key_points for s in u.sentences}
    assert len(cited) >= 8


def test_sentences_leaning_on_a_quoted_antecedent_are_quoted_with_it() -> None:
    everest = doc(
        "Mount Everest",
        "Mount Everest is the highest mountain on Earth above sea level. It lies in the "
        "Mahalangur Himal sub-range of the Himalayas. Its height was most recently measured "
        "in 2020 by Nepalese and Chinese authorities.",
    )
    plan = compose(parse("Mount Everest"), [everest], lexical(), 3)
    quoted = [s.text for u in plan.introduction for s in u.sentences]
    quoted += [s.text for _, g in plan.sections for u in g for s in u.sentences]
    assert quoted[:3] == [
        "Mount Everest is the highest mountain on Earth above sea level.",
        "It lies in the Mahalangur Himal sub-range of the Himalayas.",
        "Its height was most recently measured in 2020 by Nepalese and Chinese authorities.",
    ]
    assert len(quoted) == len(set(quoted))


def test_a_peer_that_only_compares_itself_with_the_subject_is_not_on_it() -> None:
    s = parse("Mount Everest")
    k2 = doc(
        "K2",
        "K2 is the second-highest mountain on Earth, after Mount Everest. It lies in the "
        "Karakoram range.",
    )
    tenzing = doc(
        "Tenzing Norgay",
        "Tenzing Norgay was a Sherpa mountaineer. He and Edmund Hillary were the first to "
        "reach the summit of Mount Everest.",
    )
    assert only_compared(s, k2)
    assert not only_compared(s, tenzing)
    july = doc("July Revolution", "The July Revolution was a second French Revolution.")
    assert only_compared(parse("Causes of the French Revolution"), july)
    judged = judge(s, [k2, tenzing], [0.55, 0.56], [0.55, 0.56])
    assert [j.document.title for j in judged if j.on_subject] == ["Tenzing Norgay"]


def test_a_source_without_the_narrowing_words_is_not_on_the_subject() -> None:
    s = parse("Volcanoes of Japan")
    assert [q.text for q in qualifiers(s)] == ["Japan"]
    fuji = doc("Mount Fuji", "Mount Fuji is an active volcano, the highest mountain in Japan.")
    mauna = doc("Mauna Loa", "Mauna Loa is one of five volcanoes that form the Island of Hawaii.")
    general = doc("Volcano", "A volcano is a rupture in the crust of a planet.")
    assert holds_qualifiers(s, fuji) and not holds_qualifiers(s, mauna)
    judged = judge(s, [fuji, mauna, general], [0.63, 0.57, 0.63], [0.35, 0.6, 0.75])
    assert {j.document.title for j in judged if j.on_subject} == {"Mount Fuji", "Volcano"}
    # a head noun before the required phrase is not a qualifier
    dna = weighted(parse("The structure of DNA"), {"dna": 5.0, "structur": 2.0})
    assert [k.text for k in required(dna)] == ["DNA"] and qualifiers(dna) == []
    # no source on volcanoes names Japan: the corpus lacks that part (coverage warns)
    alone = judge(s, [mauna, general], [0.57, 0.63], [0.6, 0.75])
    assert all(j.on_subject for j in alone)


def test_from_a_context_source_only_the_sentences_naming_the_subject_are_quoted() -> None:
    s = parse("Black holes")
    hole = doc(
        "Black hole",
        "A black hole is a region of spacetime where gravity is so strong that nothing can "
        "escape. The boundary of a black hole is called the event horizon.",
    )
    centre = doc(
        "Galactic Center",
        "The Galactic Center is the rotational centre of the Milky Way galaxy. Its central "
        "object is a supermassive black hole of about four million solar masses. The "
        "region is crowded with old red giant stars seen in infrared light.",
    )
    judged = judge(s, [hole, centre], [0.64, 0.44], [0.64, 0.44])
    assert [j.document.title for j in judged if j.on_subject] == ["Black hole"]
    assert [j.document.title for j in judged if j.context] == ["Galactic Center"]
    plan = compose(s, [hole, centre], lexical(), 3, frozenset({centre.uri}))
    quoted = [
        x.text
        for u in [*plan.introduction, *(u for _, g in plan.sections for u in g), *plan.key_points]
        for x in u.sentences
    ]
    assert any("supermassive black hole" in q for q in quoted)
    assert not any("red giant" in q for q in quoted)


def test_a_broader_article_named_by_the_subjects_words_is_not_marginal() -> None:
    s = parse("Climate change")
    change = doc("Climate change", "Climate change is the long-term warming of the Earth.")
    warming = doc("Global warming", "Global warming is a rise in temperature; climate change.")
    climate = doc("Climate", "Climate is the long-term weather pattern in a region.")
    judged = judge(s, [change, warming, climate], [0.8, 0.68, 0.56], [0.8, 0.68, 0.56])
    assert [j.document.title for j in marginal(judged)] == ["Climate"]
    assert marginal(judged, s) == []
    einstein = parse("Albert Einstein and the theory of relativity")
    assert not broader(einstein, doc("Albert A. Michelson", "He measured light."))
    assert broader(parse("The Industrial Revolution"), doc("Industrialisation", ""))


def test_a_pronoun_after_a_short_opener_needs_its_antecedent() -> None:
    assert is_anaphoric("On 29 May 1953, he and Tenzing Norgay reached the summit.")
    assert is_anaphoric("In 1907, she received the Nobel Prize in Chemistry.")
    assert not is_anaphoric("On 29 May 1953, Hillary and Tenzing Norgay reached the summit.")


def test_a_heading_is_a_phrase_as_written_without_the_subjects_words() -> None:
    texts = ["Tenzing Norgay was a Sherpa.", "Tenzing Norgay reached the summit."]
    assert distinctive_phrase(texts, [], {"everest"}) == "Tenzing Norgay"
    holes = ["A supermassive black hole is big.", "The supermassive black hole is central."]
    assert distinctive_phrase(holes, [], {"black", "hole"}) is None


async def test_a_run_on_a_corpus_of_ten_relevant_documents_writes_a_full_report(
    log: MemoryEventLog, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for title, body in TIDAL.items():
        (corpus / f"{title.replace(' ', '-').lower()}.md").write_text(
            f"# {title}\n\n{body}\n", encoding="utf-8"
        )
    settings = Settings(
        data_dir=tmp_path / "data",
        corpus_dir=corpus,
        use_wiki_corpus=False,
        max_sections=5,
        log_backend="memory",
        _env_file=None,  # type: ignore[call-arg]
    )
    session_id = await new_session(log, "Tidal power")
    out = tmp_path / "out"
    status = await run_research(log, session_id, "Tidal power", "en", settings, out)
    assert status == RunStatus.COMPLETED
    markdown = next(out.glob("*.md")).read_text(encoding="utf-8")
    assert 800 <= prose_words_of(markdown) <= 1500
    quoted = re.findall(r"([^.\[\]]+?\.) \[\d+\]", markdown)
    assert len(quoted) > 20 and len(quoted) == len(set(quoted)), "a sentence is quoted twice"
    assert "shorter than a full one" not in markdown
