"""Subject understanding, judgement by phrases and meaning, readable units, the plan."""

from __future__ import annotations

import numpy as np

from tk9.research.compose import compose, render
from tk9.research.coverage import measure
from tk9.research.documents import Document
from tk9.research.outline import cluster, order
from tk9.research.relevance import judge, marginal
from tk9.research.semantic import lexical
from tk9.research.sentences import is_anaphoric, units
from tk9.research.subject import parse, refine, required


def doc(title: str, body: str) -> Document:
    return Document(uri=f"x:{title}", title=title, body=body)


def test_framing_is_not_a_concept_and_phrases_stay_whole() -> None:
    s = parse("The invention of the printing press")
    assert s.framing == "invention" and [p.text for p in s.phrases] == ["printing press"]
    assert parse("causes of coral reef bleaching").framing == "causes"
    ml = parse("Machine learning in medicine")
    assert ml.field == "medicine" and [p.text for p in ml.phrases] == ["Machine learning"]
    years = parse("Quantum chromodynamics of strange quarks in 2031")
    assert years.refinements == ("2031",)
    assert [p.text for p in parse("Volcanoes of Japan").phrases] == ["Volcanoes", "Japan"]


def test_a_run_the_corpus_never_uses_as_a_unit_is_split_and_its_modifier_required() -> None:
    corpus = [doc("Coral reef", "A coral reef is an underwater ecosystem."), doc("Bleach", "x")]
    s = refine(parse("coral reef bleaching"), corpus)
    assert [p.text for p in s.phrases] == ["coral reef", "bleaching"]
    assert [k.text for k in required(s)] == ["coral reef"]
    both = parse("Diabetes and insulin")
    assert both.coordinate and [k.text for k in required(both)] == ["Diabetes", "insulin"]


def test_shared_words_are_not_enough_meaning_and_the_required_phrase_decide() -> None:
    s = refine(parse("coral reef bleaching"), [doc("Coral reef", "")])
    bleach = doc("Bleach", "Bleaching removes colour; household bleaching uses chlorine.")
    reef = doc("Coral reef", "Coral reefs are built by corals.")
    cinema = doc("Coral cinema", "A cinema.")
    judged = judge(s, [bleach, reef, cinema], [0.54, 0.5, 0.2], [0.1, 0.9, 0.3])
    assert [j.document.title for j in judged if j.on_subject] == ["Coral reef"]
    # without embeddings: the required phrase and half the weighted phrases
    lexical_only = judge(s, [bleach, reef], None, None)
    assert [j.document.title for j in lexical_only if j.on_subject] == ["Coral reef"]
    gutenberg = doc("Johannes Gutenberg", "He introduced the printing press to Europe.")
    press = parse("history of the printing press")
    assert judge(press, [gutenberg], [0.51], [0.5])[0].on_subject
    wars = parse("Causes of World War I")
    ww2 = doc("World War II", "World War II followed World War I.")
    ww1 = doc("Western Front (World War I)", "The main theatre of World War I.")
    judged = judge(wars, [ww2, ww1], [0.64, 0.5], [0.64, 0.5])
    assert [j.document.title for j in judged if j.on_subject] == [ww1.title]
    assert judge(press, [doc("Printing press", "")], [0.1], [0.1])[0].main


def test_coverage_warns_on_a_missing_part_and_fails_without_the_required_phrase() -> None:
    s = refine(parse("coral reef bleaching in 2031"), [doc("Coral reef", "")])
    reef = doc("Coral reef", "Coral reefs are built by corals.")
    partial = measure(s, [reef], None, 0.5)
    assert not partial.fails and partial.partial
    assert partial.missing == ["bleaching"] and partial.missing_refinements == ("2031",)
    assert measure(s, [doc("Bleach", "bleaching")], None, 0.5).fails
    assert measure(s, [doc("Bleach", "bleaching")], [[0.2], [0.9]], 0.5).fails


def test_a_sentence_opening_with_an_anaphor_comes_with_its_antecedent() -> None:
    assert is_anaphoric("It is the highest mountain in Japan.")
    assert is_anaphoric("Later that century, presses spread across Europe.")
    assert is_anaphoric("When they joined the war, they aimed to annex Trento.")
    assert not is_anaphoric("Mount Fuji is an active stratovolcano on Honshu island.")
    assert not is_anaphoric("In 1450, Gutenberg printed the first books in Mainz.")
    fuji = doc(
        "Mount Fuji",
        "Mount Fuji is an active stratovolcano on the island of Honshu. It is the highest "
        "mountain in Japan, at 3,776 metres high. It is one of the three holy mountains.",
    )
    lone = doc("Orphan", "It was built later than the others by several decades.")
    found = units([fuji, lone])
    assert [len(u.sentences) for u in found] == [1, 2, 3]
    assert all(u.sentences[0].text.startswith("Mount Fuji") for u in found)


def test_clusters_and_reading_order_from_hand_made_vectors() -> None:
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = cluster(vectors, 2)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    groups = [["The impact today is a worldwide decline."], ["Coral is an animal."]]
    assert order(groups, "") == [1, 0]
    causes = [["Reefs are threatened."], ["Bleaching is caused by rising heat stress."]]
    assert order(causes, "causes")[0] == 1


def test_the_plan_quotes_no_sentence_twice_and_keeps_citations_on_their_source() -> None:
    bodies = {
        "Photosynthesis": "Photosynthesis is the process by which plants make sugar from light. "
        "It releases oxygen into the air as a by-product. Chlorophyll in the leaves absorbs "
        "the light that drives photosynthesis in plants.",
        "Chlorophyll": "Chlorophyll is the green pigment of plants used in photosynthesis. "
        "Chlorophyll absorbs blue and red light for photosynthesis and reflects green light.",
        "Calvin cycle": "The Calvin cycle of photosynthesis fixes carbon dioxide into sugar. "
        "The Calvin cycle runs in the stroma of the chloroplast during photosynthesis.",
    }
    docs = [doc(t, b) for t, b in bodies.items()]
    s = parse("photosynthesis")
    plan = compose(s, docs, lexical(), 3)
    quoted = [*plan.introduction, *(u for _, g in plan.sections for u in g), *plan.key_points]
    sentences = [x for u in quoted for x in u.sentences]
    assert len({(x.source, x.position) for x in sentences}) == len(sentences)
    assert plan.introduction[0].sentences[0].text.startswith("Photosynthesis is the process")
    for _, group in plan.sections:
        text = render(group)
        for unit in group:
            for sentence in unit.sentences:
                assert f"{sentence.text} [{sentence.source + 1}]" in text
                assert sentence.text in docs[sentence.source].body


def test_a_narrower_title_far_from_the_subjects_own_article_is_another_thing() -> None:
    s = parse("How inflation works")
    main = doc("Inflation", "Inflation is the rise in the general level of prices.")
    cosmic = doc("Cosmic inflation", "Cosmic inflation is an expansion of space; inflation ended.")
    deflation = doc("Deflation", "Deflation is a decrease in prices, the opposite of inflation.")
    docs = [main, cosmic, deflation]
    sims, near = [0.74, 0.60, 0.47], [0.70, 0.60, 0.46]
    # the economic article as a second anchor: cosmology's inflation is 0.56 from it
    judged = judge(s, docs, sims, near, main_similarity=[1.0, 0.56, 0.6])
    assert [j.document.title for j in judged if j.on_subject] == ["Inflation", "Deflation"]
    # a narrower kind close to the subject's own article stays: *Supermassive black hole*
    holes = parse("Black holes")
    hole = doc("Black hole", "A black hole is a region of spacetime.")
    big = doc("Supermassive black hole", "A supermassive black hole is the largest black hole.")
    kept = judge(holes, [hole, big], [0.8, 0.6], [0.8, 0.6], main_similarity=[1.0, 0.63])
    assert all(j.on_subject for j in kept)
    # without the anchor (no own article among the candidates) nothing changes
    assert judge(s, [cosmic], [0.6], [0.6])[0].on_subject


def test_a_source_kept_on_meaning_alone_far_below_the_best_is_marginal() -> None:
    s = parse("Albert Einstein and the theory of relativity")
    einstein = doc("Albert Einstein", "Albert Einstein developed the theory of relativity.")
    special = doc("Special relativity", "Einstein's theory of relativity of 1905.")
    michelson = doc("Albert A. Michelson", "He measured the speed of light.")
    judged = judge(s, [einstein, special, michelson], [0.65, 0.70, 0.57], [0.69, 0.72, 0.58])
    assert all(j.on_subject for j in judged)
    assert [j.document.title for j in marginal(judged)] == ["Albert A. Michelson"]
    # close to the best match, or holding the phrase: not marginal
    near = judge(s, [einstein, special, michelson], [0.65, 0.62, 0.57], [0.69, 0.72, 0.58])
    assert marginal(near) == []
    assert marginal(judge(s, [michelson], None, None)) == []
