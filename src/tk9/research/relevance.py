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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from tk9.research.documents import Document
from tk9.research.mentions import (
    broader,
    depicts_only,
    holds_qualifiers,
    names_object,
    only_compared,
    qualifiers,
)
from tk9.research.subject import ROMAN, Subject, main_titles, presence, required
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
    held: float = 1.0
    """How it holds the subject's required phrase (:func:`~tk9.research.subject.presence`)."""
    context: bool = False
    """Not on the subject, but its text names the subject and it is close enough in meaning
    for the sentences that name it to be quoted (:data:`CONTEXT_CLOSE`)."""
    named: bool = False
    """On the subject because the subject's own article names it and it is close in meaning
    to that article (:data:`NAMED_KIN`), though it may never name the subject."""
    barred: bool = False
    """Kept out by how it names the subject, whatever its meaning: a numbered sibling, a
    narrowed title far from the subject's article, a mention without the narrowing words, only
    compared or dated, or a work that depicts it (see :func:`judge`)."""
    found_kin: bool = False
    """On the subject because it names it and resembles the documents found on it
    (:mod:`.kinship`), though not close enough to the subject's own words."""

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
    framing ("Telephone" for "invention of the telephone"), or one of the topics of a subject
    joined by "and". "Japan" is not the article on "volcanoes of Japan"."""
    title = tuple(_title_roots(doc.title))
    return bool(title) and title in main_titles(subject)


def _title_roots(title: str) -> list[str]:
    return [
        stem(w)
        for w in words(re.sub(r"\(.*?\)", "", title))
        if w in ROMAN or (w not in STOPWORDS and len(w) > 1)
    ]


def numbered_sibling(subject: Subject, doc: Document) -> bool:
    """A title naming another numbered member of the subject's series: "World War II" (or
    "Eastern Front (World War II)") for "World War I", "Apollo 13" for "Apollo 11"."""
    title = [stem(w) for w in words(doc.title) if w not in STOPWORDS or w in ROMAN]
    for key in subject.phrases:
        last = key.roots[-1] if key.roots else ""
        if not (last in ROMAN or last.isdigit()) or len(key.roots) < 2:
            continue
        head = key.roots[:-1]
        for i in range(len(title) - len(head)):
            if tuple(title[i : i + len(head)]) == head and title[i + len(head)] != last:
                after = title[i + len(head)]
                if after in ROMAN or after.isdigit():
                    return True
    return False


NARROWER_KIN = 0.6
"""Least cosine with the subject's own article for a title that narrows a key phrase with a
modifier (:func:`narrower`) to count as a kind of the subject: *Supermassive black hole* is
0.63 from *Black hole*, *Polio vaccine* 0.70 from *Vaccine*, *Second Industrial Revolution*
0.80 from *Industrial Revolution*; *Cosmic inflation* — the same word in cosmology — is 0.56
from the economic *Inflation*."""


def narrower(subject: Subject, doc: Document) -> bool:
    """Whether the title is one of the subject's key phrases narrowed by words before it, and
    nothing after: "Cosmic inflation" or "Supermassive black hole" for "black holes"."""
    title = tuple(_title_roots(doc.title))
    for key in subject.phrases:
        n = len(key.roots)
        if n and len(title) > n and title[-n:] == key.roots:
            return True
    return False


MARGINAL_GAP = 0.1
"""A source that never names the subject's required phrase (judged on meaning alone) and is
this much further from the subject than the closest match is *marginal*: kept, but the run
warns (:func:`marginal`)."""


def marginal(judged: Sequence[Judged], subject: Subject | None = None) -> list[Judged]:
    """Sources on the subject by meaning only: not its own article, the required phrase not
    even as a unit in their text, and ≥ :data:`MARGINAL_GAP` below the closest other match
    (*Albert A. Michelson* for "Albert Einstein and the theory of relativity", *Zambezi* for
    the Nile basin) — unless, given the ``subject``, the title is made of the subject's own
    words (:func:`~tk9.research.mentions.broader`: *Climate* for climate change) or the text
    names what the required phrase is of (:func:`~tk9.research.mentions.names_object`:
    *Ancient Rome* holds "the Western Roman Empire" for the fall of the Western Roman
    Empire)."""
    sims = [j.similarity for j in judged if j.similarity is not None and not j.main]
    if not sims:
        return []
    best = max(sims)
    return [
        j
        for j in judged
        if j.on_subject
        and not j.main
        and not j.named
        and j.held < 0.5
        and j.similarity is not None
        and j.similarity < best - MARGINAL_GAP
        and not (
            subject is not None
            and (broader(subject, j.document) or names_object(subject, j.document))
        )
    ]


NAMED_KIN = 0.55
"""Least cosine with the subject's own article for a document that article names by its
title (:mod:`.named`) to be on the subject: *Event horizon* 0.63 from *Black hole*, *Apollo
program* 0.70 from *Apollo 11*, *Henri Becquerel* 0.69 from *Marie Curie*; a title named in
passing is far: *Nobel Prize* 0.43 from *Marie Curie*, *War crime* 0.40 from *World War I*,
*Michael Collins (Irish leader)* 0.14 from *Apollo 11* (another Michael Collins). On the
quality bench 0.5 also let in *Earth's crust* for plate tectonics (0.53, unlabelled)."""


CONTEXT_CLOSE = 0.4
"""Least cosine with the subject for a *context* source: one that names the subject's
required phrase in its text but is not close enough to be about it (Sagittarius A*, 0.43,
for black holes; *Louis XVI*, 0.41, for the French Revolution). Only its sentences that name a
key phrase are quoted (:mod:`.compose`), so the prose stays on the subject. Calibrated on the
quality bench: at 0.36 the extra titles were labelled on-topic less than 70% of the time."""
CONTEXT_SPREAD = 0.3
"""A context source is also at most this far below the closest match."""


def judge(
    subject: Subject,
    docs: Sequence[Document],
    similarity: Sequence[float] | None,
    required_similarity: Sequence[float] | None,
    thresholds: tuple[float, float, float, float] = (0.42, 0.03, 0.55, 0.2),
    main_similarity: Sequence[float] | None = None,
    named: Collection[str] = frozenset(),
) -> list[Judged]:
    """Judge every candidate; the subject's own articles first, then by score.

    ``similarity``: cosine of each document with the subject; ``required_similarity``: with
    the subject's :func:`~tk9.research.subject.required` phrase (None without embeddings).
    ``thresholds``: (close, extra for a mere mention, speaks to the phrase, spread), see
    docs/research.md.

    A document is on the subject when it is the subject's own article (:func:`is_main`); or,
    with embeddings, when it holds a required phrase (:func:`~tk9.research.subject.required`;
    or is close to it in meaning: cosine ≥ "speaks"), is close to the subject (cosine ≥
    "close", plus "mention" when the phrase is only in its text, not its title), and is not
    much further from the subject than the best match other than its own article (within
    "spread"). ``main_similarity`` (cosine of each document with the closest of the subject's
    own articles among ``docs``; None when there is none) is a second anchor: a title that
    narrows a key phrase (:func:`narrower`: *Cosmic inflation* for "inflation") must also be
    within :data:`NARROWER_KIN` of the subject's own article, else it is the same word for
    another thing. ``named``: URIs of documents the subject's own article names by title
    (:mod:`.named`); with embeddings, one within :data:`NAMED_KIN` of that article is on the
    subject even when it never names the subject. Without embeddings, when it holds a required
    phrase and at least :data:`LEXICAL_ON` of the weighted key phrases. Sharing a word is never
    enough: *Bleach* holds "bleaching" but not "coral reef". A numbered sibling ("World War II"
    for "World War I") never is.
    """
    close, mention, speaks, spread = thresholds
    keys = required(subject)
    # the narrowing words count only when some source on the required phrase names them:
    # otherwise the corpus lacks that part, which coverage reports (a warning, not a refusal)
    narrowing = any(
        max((presence(k, d) for k in keys), default=0.0) >= 0.5 and holds_qualifiers(subject, d)
        for d in docs
        if qualifiers(subject)
    )
    best = 0.0  # the closest document that is not the subject's own article
    if similarity is not None:
        others = [
            float(v) for d, v in zip(docs, similarity, strict=True) if not is_main(subject, d)
        ]
        best = max(others, default=0.0)
    out = []
    for i, doc in enumerate(docs):
        share = lexical_share(subject, doc)
        main = is_main(subject, doc)
        held = max((presence(k, doc) for k in keys), default=1.0)
        sim = None if similarity is None else float(similarity[i])
        kin = 1.0 if main_similarity is None else float(main_similarity[i])
        context = linked = False
        barred = not main and (
            numbered_sibling(subject, doc)
            or (kin < NARROWER_KIN and narrower(subject, doc))
            or (narrowing and held < 1 and not holds_qualifiers(subject, doc))
            or (held == 0.5 and only_compared(subject, doc))
            or (held < 1 and depicts_only(subject, doc))
        )
        if barred:
            ok = False
        elif sim is None:
            ok = main or (held >= 0.5 and share >= LEXICAL_ON - _EPSILON)
        else:
            near = required_similarity is not None and float(required_similarity[i]) >= speaks
            need = close + (mention if held < 1 else 0.0)
            ok = main or ((held >= 0.5 or near) and sim >= need and sim >= best - spread)
            linked = (
                not ok and main_similarity is not None and doc.uri in named and kin >= NAMED_KIN
            )
            ok = ok or linked
            context = (
                not ok and held >= 0.5 and sim >= CONTEXT_CLOSE and sim >= best - CONTEXT_SPREAD
            )
        out.append(Judged(doc, share, sim, main, ok, held, context, linked, barred))
    order = sorted(range(len(out)), key=lambda i: (not out[i].main, -out[i].score, i))
    return [out[i] for i in order]
