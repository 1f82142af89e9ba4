"""Documents that name the subject and resemble what was already found on it.

The Browser's judgement (:func:`.relevance.judge`) compares each candidate with the subject's
*words*: "Black holes" is a short text, and *Supernova* (whose summary says a collapsing core
"may become a neutron star or a black hole") is 0.31 from it — far below the 0.45 asked of a
document that only names the subject in its text. Yet it is close to the documents that were
found on black holes (0.56 from their mean), as *Neutron star*, *HTTP* for the history of the
Internet or *Tsunami* for earthquakes are to theirs.

So, once the first judgement has found documents on the subject, their mean embedding (the
*centroid*: pseudo-relevance feedback) is a second, richer description of the subject, and a
candidate is on the subject too when it

* names a required phrase of the subject as a unit in its text (``held`` ≥ 0.5, as for any
  document kept by meaning) — meaning alone is not enough: among the documents as close to
  the centroid that never name the subject, the quality bench labels more off-topic than on
  (*Congo River* for the Nile basin, *Jungle* for the Amazon rainforest, *Weather* for climate
  change: siblings resemble the found set as much as its parts do);
* names a *telling* key phrase of the subject (:func:`telling`): "human" in "the human heart
  and blood circulation" is named by 6% of the corpus (*Hemoglobin*: "a healthy human has…");
* was not kept out by how it names the subject (:attr:`.relevance.Judged.barred`: a numbered
  sibling, a mention that only compares or dates, a work that depicts it…);
* and is within :data:`FOUND_KIN` of the centroid.

Documents found so are part of the found set for a second round (:data:`ROUNDS`).

Pure functions over judgements and vectors; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from tk9.research.documents import Document
from tk9.research.relevance import Judged
from tk9.research.semantic import Matrix
from tk9.research.subject import KeyPhrase, Subject, presence

FOUND_KIN = 0.5
"""Least cosine with the centroid of the documents found on the subject. Calibrated on the
quality bench, over the candidates the first judgement left out (context sources apart) that
name the subject, are not barred and name a telling phrase: at 0.5, 28 labelled on-topic and
1 not (*Roman mythology* for the economy of ancient Rome, a run that warns anyway); at 0.45,
45 and 9 (*Ethology* for Darwin, *Linus Pauling* for Marie Curie, *Watt* for the steam engine,
*Srivijaya* for Buddhism…); at 0.55, 16 and 0."""
ROUNDS = 2
"""Rounds of the rule, each with the centroid of the documents found so far (the last round's
included). On the quality bench the second round added 7 documents, all labelled on-topic
(*White dwarf*, *3C 273*, *Galaxy* for black holes after *Supernova* and *Neutron star*;
*Protein*, *Epigenetics* for DNA), and further rounds drifted: rounds 3–6 brought in
*Nilo-Saharan languages* for the Nile basin (unlabelled)."""
TELLING = 2 / 3
"""A key phrase is telling when its weight (:func:`~tk9.research.subject.weighted`: the IDF
of its rarest word) is at least this share of the heaviest key phrase's: "human" (3.8) is not
beside "heart" (6.5) and "blood circulation" (6.8); "theory of relativity" (4.4) is not beside
"Albert Einstein" (7.1), "natural selection" (6.0) is beside "Charles Darwin" (7.3)."""


def telling(subject: Subject) -> list[KeyPhrase]:
    """The key phrases that say what the subject is (see :data:`TELLING`)."""
    heaviest = max((p.weight for p in subject.phrases), default=0.0)
    return [p for p in subject.phrases if p.weight >= TELLING * heaviest]


def centroid(vectors: Matrix) -> Matrix | None:
    """The unit mean of unit row vectors; None for none (or vectors that cancel out)."""
    if not len(vectors):
        return None
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return None
    out: Matrix = (mean / norm).astype(np.float32)
    return out


def with_found_kin(
    subject: Subject,
    judged: Sequence[Judged],
    documents: Sequence[Document],
    vectors: Matrix,
    limit: int,
) -> list[Judged]:
    """``judged`` (same order) with every document that names the subject and is within
    :data:`FOUND_KIN` of the found documents' centroid marked on the subject
    (:attr:`~.relevance.Judged.found_kin`), in up to :data:`ROUNDS` rounds. ``vectors``: the
    unit embeddings of ``documents`` (one row each, same order; every judged document is among
    them); the centroid is that of the first ``limit`` documents on the subject (those a report
    draws on). A context source keeps that mark, so that when the report's source limit leaves
    it out it is still quoted where it names the subject."""
    row = {d.uri: i for i, d in enumerate(documents)}
    phrases = telling(subject)
    out = list(judged)
    for _ in range(ROUNDS):
        found = [row[j.document.uri] for j in out if j.on_subject][:limit]
        centre = centroid(vectors[found])
        if centre is None:
            break
        before = sum(j.on_subject for j in out)
        out = [
            dataclasses.replace(j, on_subject=True, found_kin=True)
            if not j.on_subject
            and not j.barred
            and j.held >= 0.5
            and float(vectors[row[j.document.uri]] @ centre) >= FOUND_KIN
            and any(presence(p, j.document) >= 0.5 for p in phrases)
            else j
            for j in out
        ]
        if sum(j.on_subject for j in out) == before:
            break
    return out
