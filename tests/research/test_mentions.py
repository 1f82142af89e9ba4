"""A source that names the subject while being about something else is not on it; one that
names what the subject is of is not judged on meaning alone (issue 8, follow-up).

Pure judgements on small documents written like the wiki's summaries; the figures these rules
move are in docs/benchmarks.md (``bench/research_quality.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tk9.research.corpus import CorpusIndex, folder_source
from tk9.research.documents import Document
from tk9.research.mentions import depicts_only, names_object, only_compared
from tk9.research.named import named_by, title_roots
from tk9.research.relevance import judge, marginal
from tk9.research.retrieval import Retriever
from tk9.research.subject import parse, refine


def doc(title: str, body: str) -> Document:
    return Document(f"https://example.org/{title.replace(' ', '_')}", title, body)


REVOLUTION = doc(
    "French Revolution",
    "The French Revolution was a period of political and societal change in France that "
    "began with the Estates General of 1789.",
)
PAINTING = doc(
    "Liberty Leading the People",
    "Liberty Leading the People is a painting of the Romantic era by the French artist Eugène "
    "Delacroix, commemorating the July Revolution of 1830. Liberty holds aloft the flag of "
    "the French Revolution, the tricolour.",
)
ROBESPIERRE = doc(
    "Maximilien Robespierre",
    "Maximilien Robespierre was a French lawyer and statesman who became one of the best-known "
    "figures of the French Revolution.",
)


def test_a_work_of_art_that_only_shows_the_subject_is_not_on_it() -> None:
    s = parse("Causes of the French Revolution")
    assert depicts_only(s, PAINTING)
    assert not depicts_only(s, ROBESPIERRE)  # a person, not a work
    judged = judge(s, [REVOLUTION, PAINTING, ROBESPIERRE], [0.74, 0.46, 0.46], [0.74, 0.46, 0.46])
    assert [j.document.title for j in judged if j.on_subject] == [
        "French Revolution",
        "Maximilien Robespierre",
    ]
    assert not any(j.context for j in judged)  # not even quoted for its mention


def test_a_work_whose_defining_sentence_names_the_subject_speaks_of_it() -> None:
    hamlet = doc(
        "Hamlet",
        "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.",
    )
    assert not depicts_only(parse("William Shakespeare"), hamlet)
    # ... and only works: an instrument, a cell, a designer are not works of art
    for title, body in [
        ("Guitar", "The guitar is a stringed musical instrument, played with the fingers."),
        ("Protozoa", "Protozoa are a single cell, of the French Revolution era."),
        ("Shigeru Miyamoto", "Shigeru Miyamoto is a video game designer and producer."),
        ("Sphinx", "The Sphinx is a limestone statue of a reclining sphinx by the Nile."),
    ]:
        assert not depicts_only(parse("Causes of the French Revolution"), doc(title, body))
    film = doc("Napoleon (film)", "Napoleon is a 1927 French silent epic film directed by Gance.")
    assert depicts_only(parse("Causes of the French Revolution"), film)


def test_a_mention_that_only_dates_something_else_is_a_comparison() -> None:
    s = parse("Causes of the French Revolution")
    period = doc(
        "Late modern period",
        "The late modern period followed the early modern period. It began in 1789 with the "
        "start of the French Revolution.",
    )
    assert only_compared(s, period)
    assert not only_compared(s, ROBESPIERRE)
    both = doc(
        "Louis XVI",
        "Louis XVI was King of France before the French Revolution. He was executed during the "
        "French Revolution.",
    )
    assert not only_compared(s, both)  # one mention speaks of it: judged as usual
    war = doc("Trench warfare", "Trench warfare spread on the eve of World War I.")
    assert only_compared(parse("Causes of World War I"), war)


def test_a_source_naming_what_the_subject_is_of_is_not_marginal() -> None:
    fall = doc(
        "Fall of the Western Roman Empire",
        "The fall of the Western Roman Empire was the loss of central political control in the "
        "Western Roman Empire.",
    )
    byzantium = doc(
        "Byzantine Empire",
        "The Byzantine Empire continued after the fall of the Western Roman Empire.",
    )
    rome = doc(
        "Ancient Rome",
        "Ancient Rome is the Roman civilisation from the founding of the city of Rome to the "
        "collapse of the Western Roman Empire in the 5th century AD.",
    )
    goths = doc("Goths", "The Goths were a Germanic people who sacked the city in 410.")
    # a title holds the whole phrase, so it is one key phrase (as in the pipeline)
    s = refine(parse("Fall of the Western Roman Empire"), [fall, byzantium, rome, goths])
    assert [k.text for k in s.phrases] == ["Fall of the Western Roman Empire"]
    assert names_object(s, rome) and not names_object(s, goths)
    judged = judge(
        s,
        [fall, byzantium, rome, goths],
        [0.81, 0.71, 0.56, 0.56],
        [0.81, 0.71, 0.56, 0.56],
    )
    assert {j.document.title for j in judged if j.on_subject} >= {"Ancient Rome", "Goths"}
    assert [j.document.title for j in marginal(judged, s)] == ["Goths"]
    # a one-word object is too loose: "relativity" does not name the theory of relativity
    einstein = parse("Albert Einstein and the theory of relativity")
    assert not names_object(einstein, doc("Albert A. Michelson", "Light and relativity."))


# --- what the subject's own article names -------------------------------------------------

MARIE = doc(
    "Marie Curie",
    "Marie Curie was a physicist and chemist who conducted pioneering research on "
    "radioactivity. She shared the Nobel Prize in Physics with Pierre Curie and Henri "
    "Becquerel.",
)
BECQUEREL = doc(
    "Henri Becquerel",
    "Antoine Henri Becquerel was a French engineer and physicist who discovered radioactivity.",
)
NOBEL = doc("Nobel Prize", "The Nobel Prizes are awards given each year in several fields.")
PHYSICS = doc("Physics", "Physics is the natural science of matter and energy.")


def test_the_subjects_own_article_names_its_parts_by_title() -> None:
    assert title_roots("Competition (economics)") == ("competit",)
    found = named_by([MARIE], [MARIE, BECQUEREL, NOBEL, PHYSICS])
    # "Nobel Prize in Physics" names the Nobel Prize; "physicist" does not name Physics (and
    # a one-word title is too often another thing of that spelling: never counted)
    assert [d.title for d in found] == ["Henri Becquerel", "Nobel Prize"]
    assert named_by([], [BECQUEREL]) == []


def test_a_part_the_own_article_names_is_on_the_subject_when_close_to_that_article() -> None:
    s = parse("Marie Curie")
    docs = [MARIE, BECQUEREL, NOBEL]
    # neither names "Marie Curie"; Becquerel is close to her article, the prize is not
    judged = judge(
        s,
        docs,
        [0.77, 0.43, 0.18],
        [0.77, 0.43, 0.18],
        main_similarity=[1.0, 0.69, 0.43],
        named={BECQUEREL.uri, NOBEL.uri},
    )
    on = [j for j in judged if j.on_subject]
    assert [j.document.title for j in on] == ["Marie Curie", "Henri Becquerel"]
    assert on[1].named and marginal(judged, s) == []  # named by the article: not on meaning
    # not named by the article: the same figures keep it out
    alone = judge(
        s, docs, [0.77, 0.43, 0.18], [0.77, 0.43, 0.18], main_similarity=[1.0, 0.69, 0.43]
    )
    assert [j.document.title for j in alone if j.on_subject] == ["Marie Curie"]
    # without embeddings there is no closeness to judge: the lexical rule alone
    lexical = judge(s, docs, None, None, named={BECQUEREL.uri})
    assert [j.document.title for j in lexical if j.on_subject] == ["Marie Curie"]


def test_the_index_finds_the_titles_an_article_names(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    for d in (MARIE, BECQUEREL, NOBEL, PHYSICS):
        (root / f"{d.title}.md").write_text(f"# {d.title}\n\n{d.body}\n")
    index = CorpusIndex(tmp_path / "index.sqlite3")
    try:
        index.sync_folder(root)
        retriever = Retriever(index, [folder_source(root)])
        marie = next(d for d in index.titled([("mari", "curi")], retriever.sources))
        found = asyncio.run(retriever.named_by([marie]))
        assert sorted(d.title for d in found) == ["Henri Becquerel", "Nobel Prize"]
        assert index.titled([], retriever.sources) == []
    finally:
        index.close()
