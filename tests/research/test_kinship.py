"""A document that names the subject and resembles what was found on it is on the subject.

Hand-made unit vectors stand for embeddings: the first judgement (:func:`judge`) finds the
subject's own article and one close part; the centroid of those two is then a second, richer
description of the subject (:mod:`tk9.research.kinship`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tk9.research.browse import judge_candidates
from tk9.research.documents import Document
from tk9.research.kinship import FOUND_KIN, ROUNDS, centroid, telling, with_found_kin
from tk9.research.relevance import judge
from tk9.research.semantic import Matrix, dense
from tk9.research.subject import parse, refine, required, weighted


def doc(title: str, body: str) -> Document:
    return Document(uri=f"x:{title}", title=title, body=body)


def unit(*values: float) -> list[float]:
    v = np.array(values, dtype=np.float32)
    return list(v / np.linalg.norm(v))


HOLE = doc("Black hole", "A black hole is a region of spacetime that light cannot escape.")
HORIZON = doc("Event horizon", "The event horizon is the boundary of a black hole.")
SUPERNOVA = doc(
    "Supernova", "A supernova is the explosion of a star; its core may become a black hole."
)
DWARF = doc("White dwarf", "A white dwarf is a stellar remnant, denser than all but a black hole.")
NEBULA = doc("Crab Nebula", "The Crab Nebula is the remnant of a supernova seen in 1054.")
K2 = doc("K2", "K2 is the second-highest mountain on Earth, after Mount Everest.")


def vectors(rows: list[list[float]]) -> Matrix:
    return np.array(rows, dtype=np.float32)


def test_a_document_naming_the_subject_close_to_what_was_found_is_on_it() -> None:
    s = parse("Black holes")
    docs = [HOLE, HORIZON, SUPERNOVA, DWARF, NEBULA]
    # the subject's words are far from the supernova (0.31) and the white dwarf (0.28)
    judged = judge(s, docs, [0.80, 0.60, 0.31, 0.28, 0.30], [0.80, 0.60, 0.31, 0.28, 0.30])
    assert [j.document.title for j in judged if j.on_subject] == ["Black hole", "Event horizon"]
    rows = vectors(
        [
            unit(1.0, 0.2, 0.0),  # the own article and the horizon: the found set
            unit(1.0, -0.2, 0.0),
            unit(1.0, 0.0, 1.1),  # supernova: 0.67 from their centroid
            unit(1.0, 0.0, -2.0),  # white dwarf: 0.45, below FOUND_KIN, and further after
            unit(1.0, 0.0, 0.5),  # nebula: close, but never names a black hole
        ]
    )
    out = with_found_kin(s, judged, docs, rows, limit=14)
    assert [j.document.title for j in out] == [j.document.title for j in judged]  # same order
    on = [j for j in out if j.on_subject]
    assert [j.document.title for j in on] == ["Black hole", "Event horizon", "Supernova"]
    assert on[2].found_kin and not any(j.found_kin for j in on[:2])
    centre = centroid(rows[:2])
    assert centre is not None
    assert float(rows[3] @ centre) < FOUND_KIN <= float(rows[2] @ centre)


def test_only_the_first_found_documents_shape_the_centroid() -> None:
    s = parse("Black holes")
    docs = [HOLE, HORIZON, SUPERNOVA]
    judged = judge(s, docs, [0.80, 0.60, 0.31], [0.80, 0.60, 0.31])
    rows = vectors([unit(1.0, 0.0, 0.0), unit(0.0, 1.0, 0.0), unit(0.0, 1.0, 0.1)])
    # with both found documents the supernova is 0.70 from their mean; with the own article
    # alone, 0.0
    assert with_found_kin(s, judged, docs, rows, limit=2)[2].on_subject
    assert not with_found_kin(s, judged, docs, rows, limit=1)[2].on_subject


def test_a_document_kept_out_by_how_it_names_the_subject_stays_out() -> None:
    s = parse("Mount Everest")
    everest = doc("Mount Everest", "Mount Everest is Earth's highest mountain above sea level.")
    docs = [everest, K2]
    judged = judge(s, docs, [0.85, 0.40], [0.85, 0.40])
    assert judged[1].barred and not judged[1].on_subject  # only compared with Everest
    rows = vectors([unit(1.0, 0.0), unit(1.0, 0.1)])
    assert [j.on_subject for j in with_found_kin(s, judged, docs, rows, limit=14)] == [
        True,
        False,
    ]


def test_a_common_word_of_the_subject_is_not_enough() -> None:
    heart = doc("Heart", "In humans the heart drives the blood circulation through the vessels.")
    hemoglobin = doc("Hemoglobin", "A healthy human has 12 to 20 grams of hemoglobin in blood.")
    lung = doc("Lung", "The two lungs of a human lie on either side of the heart.")
    docs = [heart, hemoglobin, lung]
    system = doc("Circulatory system", "It carries blood in the blood circulation.")
    # the corpus never writes "human heart": "human" becomes a required phrase of its own
    s = weighted(
        refine(parse("The human heart and blood circulation"), [*docs, system]),
        {"human": 3.8, "heart": 6.5, "blood": 5.0, "circul": 6.8},
    )
    assert [k.text for k in required(s)] == ["human", "blood circulation"]
    assert [p.text for p in telling(s)] == ["heart", "blood circulation"]
    judged = judge(s, docs, [0.7, 0.3, 0.3], [0.7, 0.3, 0.3])
    assert [j.held for j in judged[1:]] == [0.5, 0.5]  # both name "human"
    rows = vectors([unit(1.0, 0.0), unit(1.0, 0.3), unit(1.0, 0.3)])
    out = with_found_kin(s, judged, docs, rows, limit=14)
    # only the lung also names the heart, a telling phrase
    assert {j.document.title: j.on_subject for j in out} == {
        "Heart": True,
        "Hemoglobin": False,
        "Lung": True,
    }


def test_telling_phrases_and_the_centroid() -> None:
    s = weighted(
        parse("Albert Einstein and the theory of relativity"),
        {"albert": 5.0, "einstein": 7.1, "theori": 2.5, "relat": 4.4},
    )
    assert [p.text for p in telling(s)] == ["Albert Einstein"]  # 4.4 < 2/3 of 7.1
    assert centroid(vectors([])) is None
    assert centroid(vectors([[1.0, 0.0], [-1.0, 0.0]])) is None
    centre = centroid(vectors([[1.0, 0.0], [0.0, 1.0]]))
    assert centre is not None and np.allclose(centre, unit(1.0, 1.0))
    # nothing found: nothing to resemble, nothing changes
    hole = parse("Black holes")
    judged = judge(hole, [SUPERNOVA], [0.31], [0.31])
    assert with_found_kin(hole, judged, [SUPERNOVA], vectors([[1.0]]), 14) == judged


def test_a_telling_word_without_the_required_phrase_is_not_enough() -> None:
    reef = doc("Coral reef", "Coral reefs are built by corals; warm water causes bleaching.")
    fish = doc("Coral reef fish", "Fish that live among coral reefs, which bleaching harms.")
    bleach = doc("Bleach", "Bleaching whitens cloth; household bleaching uses chlorine.")
    docs = [reef, fish, bleach]
    s = weighted(refine(parse("coral reef bleaching"), docs), {"coral": 7.6, "bleach": 9.1})
    assert [p.text for p in telling(s)] == ["coral reef", "bleaching"]
    judged = judge(s, docs, [0.7, 0.35, 0.55], [0.7, 0.35, 0.1])
    assert [j.document.title for j in judged if j.on_subject] == ["Coral reef"]
    # household bleach resembles the reef as much as the fish do: the words decide
    rows = vectors([unit(1.0, 0.0), unit(1.0, 0.2), unit(1.0, 0.2)])
    out = with_found_kin(s, judged, docs, rows, limit=14)
    assert {j.document.title: j.on_subject for j in out} == {
        "Coral reef": True,
        "Coral reef fish": True,
        "Bleach": False,
    }


def test_the_browser_judges_with_the_found_documents_as_a_second_description() -> None:
    """The Browser's judgement (dense path) applies the rule: same vectors, same outcome."""
    table = {
        "Black holes": unit(1.0, 0.0, 0.0, 0.0),
        "Black hole": unit(1.0, 0.0, 0.6, 0.0),
        "Event horizon": unit(0.8, 0.0, 0.6, 0.0),
        "Supernova": unit(0.4, 0.0, 0.92, 0.0),  # 0.40 from the subject, 0.84 from the found
        "Crab Nebula": unit(0.4, 0.0, 0.92, 0.0),
    }

    def embed(texts: Sequence[str]) -> Matrix:
        return vectors([table[t.split(".")[0]] for t in texts])

    candidates = [HOLE, HORIZON, SUPERNOVA, NEBULA]
    judged, _ = judge_candidates(dense(embed), parse("Black holes"), candidates, set())
    on = {j.document.title: j.found_kin for j in judged if j.on_subject}
    assert on == {"Black hole": False, "Event horizon": False, "Supernova": True}


def test_what_was_found_in_the_first_round_shapes_the_second() -> None:
    s = parse("Black holes")
    docs = [HOLE, HORIZON, SUPERNOVA, DWARF]
    judged = judge(s, docs, [0.80, 0.60, 0.31, 0.28], [0.80, 0.60, 0.31, 0.28])
    rows = vectors(
        [
            unit(1.0, 0.0, 0.0),
            unit(1.0, 0.0, 0.0),
            unit(1.0, 1.0, 0.0),  # 0.71 from the first centroid
            unit(0.3, 1.0, 0.0),  # 0.29 from it, 0.52 once the supernova is found
        ]
    )
    out = with_found_kin(s, judged, docs, rows, limit=14)
    assert [j.found_kin for j in out] == [False, False, True, True]
    assert ROUNDS == 2
