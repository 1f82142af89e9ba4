"""Is a document about the subject? One judgement, used by every agent that picks sources.

Full-text search ranks any document that shares one word with the subject: for "Tidal energy
in Europe" it happily returns "Annelid" (whose worms live in *tidal* zones) and a dozen physics
articles on kinetic or potential *energy*. Building an outline from those titles gives a report
about worms and physics, and quoting nothing from them gives an empty report.

So each of the subject's content words (its *concepts*, compared by :func:`tk9.research.text.stem`
so "tidal", "tide" and "tides" meet) is weighted by how rare it is in the corpus (IDF: "tidal"
says far more about the subject than "energy"), and a document scores the weighted share of
concepts it covers — fully when a concept is in its title (the document is *about* it), half
when only its text mentions it. (Giving more for repeated mentions was tried: it let in
"Snorri Sturluson" for volcanoes in Iceland, who is Icelandic, often.) A document is on the
subject when it scores at least :data:`ON_SUBJECT`.

A subject word that no document of the corpus uses at all ("xyzzy") means the corpus cannot
speak to that part of the subject, whatever else it matches; :attr:`Relevance.unknown` lists
such words so the Browser can say so instead of writing a report about something else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tk9.research.documents import Document
from tk9.research.subject import Subject, presence, required
from tk9.research.text import STOPWORDS, stem, terms, words

ON_SUBJECT = 0.4
"""The least weighted share of the subject a document must cover to be used.

Calibrated on the offline wiki: "Tide" covers 0.47 of "Tidal energy in Europe" (the rare
concept, in its title), "London" 0.35 (mentions the tidal Thames and Europe), "Kinetic energy"
0.30 (the common concept only), "Annelid" 0.23 (one mention of tidal zones). For "history of
the printing press", "Printing" scores 0.59, "Johannes Gutenberg" 0.399 (text on printing and
presses: just out) and "Printed circuit board" 0.38."""
TITLE_CREDIT = 1.0
BODY_CREDIT = 0.5
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Concept:
    """One content word of the subject."""

    word: str
    root: str
    weight: float
    known: bool = True
    """False when the corpus was searched and no document uses the word."""


def concept_words(subject: str) -> list[tuple[str, str]]:
    """The subject's content words with their roots, first spelling of each root kept."""
    seen: dict[str, str] = {}
    for word in words(subject):
        if word in STOPWORDS or len(word) < 2:
            continue
        seen.setdefault(stem(word), word)
    return [(word, root) for root, word in seen.items()]


@dataclass(frozen=True, slots=True)
class Relevance:
    """How much of one subject a document covers."""

    subject: str
    concepts: tuple[Concept, ...]

    @classmethod
    def from_counts(
        cls, subject: str, frequencies: Mapping[str, int] | None, total: int
    ) -> Relevance:
        """Weights from document frequencies (root → documents using it) among ``total``.

        ``frequencies`` None (no corpus index, e.g. web search only) weighs concepts equally
        and declares none unknown.
        """
        concepts = []
        for word, root in concept_words(subject):
            if frequencies is None:
                concepts.append(Concept(word, root, 1.0))
                continue
            if word.isdigit():
                # a year or a number refines the topic; in an encyclopedia it is rarely what an
                # article is about, and as a rare word it would outweigh the topic itself
                continue
            df = frequencies.get(root, 0)
            weight = math.log((1 + total) / (1 + df)) + 1.0
            concepts.append(Concept(word, root, weight, known=df > 0))
        return cls(subject, tuple(concepts))

    @property
    def unknown(self) -> list[str]:
        """Subject words that no document of the corpus uses."""
        return [c.word for c in self.concepts if not c.known]

    def score(self, doc: Document) -> float:
        """The weighted share of the subject that ``doc`` covers, in [0, 1]."""
        total = sum(c.weight for c in self.concepts)
        if not total:
            return 1.0
        title = set(terms(doc.title))
        body = set(terms(doc.body))
        covered = 0.0
        for concept in self.concepts:
            if concept.root in title:
                covered += TITLE_CREDIT * concept.weight
            elif concept.root in body:
                covered += BODY_CREDIT * concept.weight
        return covered / total

    def on_subject(self, doc: Document) -> bool:
        return self.score(doc) >= ON_SUBJECT - _EPSILON

    def rank(self, docs: Iterable[Document]) -> list[Document]:
        """The documents on the subject, most relevant first (search order breaks ties)."""
        scored = [(self.score(d), i, d) for i, d in enumerate(docs)]
        kept = [s for s in scored if s[0] >= ON_SUBJECT - _EPSILON]
        kept.sort(key=lambda s: (-s[0], s[1]))
        return [d for _, _, d in kept]


def describe_nothing(subject: str, unknown: Sequence[str]) -> str:
    """The Browser's error when the corpus holds nothing about the subject."""
    why = ""
    if unknown:
        listed = ", ".join(f"“{w}”" for w in unknown)
        why = f" (no document mentions {listed})"
    return (
        f"the corpus holds nothing about “{subject}”{why}: add documents with "
        "TK9_CORPUS_DIR or configure a search provider"
    )


# --- judging by key phrases and meaning ---------------------------------------------------

LEXICAL_ON = 0.5
"""Without the embedding model: the weighted share of key phrases a document must hold (a
phrase in its title counts 1, as a unit in its text 0.5)."""


@dataclass(frozen=True, slots=True)
class Judged:
    """One candidate document and why it is (not) about the subject."""

    document: Document
    lexical: float
    """Weighted share of the subject's key phrases it holds (:func:`subject.presence`)."""
    similarity: float | None
    """Cosine of its embedding with the subject's (None without an embedder)."""
    main: bool
    """Its title is the subject or one of the subject's key phrases."""
    on_subject: bool

    @property
    def score(self) -> float:
        if self.similarity is None:
            return self.lexical
        return 0.5 * self.lexical + 0.5 * self.similarity


def lexical_share(subject: Subject, doc: Document) -> float:
    """The weighted share of the subject's key phrases that ``doc`` holds."""
    total = sum(p.weight for p in subject.phrases)
    if not total:
        return 1.0
    return sum(p.weight * presence(p, doc) for p in subject.phrases) / total


def is_main(subject: Subject, doc: Document) -> bool:
    """Whether ``doc`` is the subject's own article: its title is the subject without its
    framing ("Telephone" for "invention of the telephone"). "Japan" is not the article on
    "volcanoes of Japan"."""
    title = tuple(stem(w) for w in words(re.sub(r"\(.*?\)", "", doc.title)) if w not in STOPWORDS)
    core = tuple(r for p in subject.phrases for r in p.roots)
    return bool(title) and title == core


def judge(
    subject: Subject,
    docs: Sequence[Document],
    similarity: Sequence[float] | None,
    required_similarity: Sequence[float] | None,
    thresholds: tuple[float, float, float] = (0.38, 0.55, 0.5),
) -> list[Judged]:
    """Judge every candidate; the subject's own articles first, then by score.

    ``similarity``: cosine of each document with the subject; ``required_similarity``: with
    the subject's :func:`~tk9.research.subject.required` phrase (None without embeddings).
    ``thresholds``: (close, very close, speaks to the phrase), see docs/research.md.

    A document is on the subject when it is the subject's own article; or, with embeddings,
    when it speaks to the required phrase (holds it, or cosine ≥ the third threshold) and is
    close to the subject (≥ the first), or is very close (≥ the second: "Printmaking" for the
    printing press); without embeddings, when it holds the required phrase and at least
    :data:`LEXICAL_ON` of the weighted key phrases. Sharing a word is never enough: *Bleach*
    holds "bleaching" but not "coral reef".
    """
    close, very_close, speaks = thresholds
    key = required(subject)
    out = []
    for i, doc in enumerate(docs):
        share = lexical_share(subject, doc)
        main = is_main(subject, doc)
        holds = key is None or presence(key, doc) >= 0.5
        sim = None if similarity is None else float(similarity[i])
        if sim is None:
            ok = main or (holds and share >= LEXICAL_ON - _EPSILON)
        else:
            near = required_similarity is not None and float(required_similarity[i]) >= speaks
            ok = main or ((holds or near) and sim >= close) or sim >= very_close
        out.append(Judged(doc, share, sim, main, ok))
    order = sorted(range(len(out)), key=lambda i: (not out[i].main, -out[i].score, i))
    return [out[i] for i in order]
