"""The offline engine: every sentence of the report is quoted from a cited source.

The pipeline hands this engine only documents that are about the subject (see
:mod:`tk9.research.relevance`), so it never has to guess whether "Annelid" belongs in a report
on tidal energy.

* Outline: the titles of those documents other than the subject's own article (each is a
  facet of the subject the corpus actually covers), chosen for diversity by MMR; when too few
  documents match, the most distinctive two-word keyphrases fill the outline.
* Sections: sentences of the section's sources scored by cosine similarity to the subject plus
  the heading (relevance) and LexRank centrality among the candidates; MMR picks a handful
  that are relevant yet not redundant, and sentences below a relevance cutoff are never used,
  so a section stays on the subject even when the sources wander.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tk9.research.documents import Document
from tk9.research.report import Outline, SectionDraft
from tk9.research.text import (
    STOPWORDS,
    cosine,
    idf,
    lexrank,
    mmr,
    sentences,
    stem,
    terms,
    tfidf,
    words,
)

RELEVANCE_CUTOFF = 0.05
MIN_SENTENCE_WORDS = 6
MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True, slots=True)
class _Candidate:
    text: str
    source: int
    position: int


class ExtractiveEngine:
    """Selects and cites source sentences; needs no network and no model."""

    name = "extractive"
    note = (
        "This report is extractive: tk9 selected every sentence from the cited sources "
        "(offline, no language model), so it quotes rather than paraphrases."
    )

    def __init__(self, sentences_per_section: int = 5) -> None:
        self.sentences_per_section = sentences_per_section

    async def outline(
        self, subject: str, evidence: Sequence[Document], max_sections: int
    ) -> Outline:
        return await asyncio.to_thread(self._outline, subject, evidence, max_sections)

    async def section(
        self, subject: str, heading: str, evidence: Sequence[Document]
    ) -> SectionDraft:
        body = await asyncio.to_thread(
            self._select,
            f"{subject} {heading} {heading}",
            evidence,
            self.sentences_per_section,
        )
        return SectionDraft(heading=heading, body=body, evidence=tuple(evidence))

    async def introduction(self, subject: str, evidence: Sequence[Document]) -> SectionDraft:
        body = await asyncio.to_thread(self._select, subject, evidence, 4)
        return SectionDraft(heading="", body=body, evidence=tuple(evidence))

    async def conclusion(
        self, subject: str, sections: Sequence[tuple[str, str]], reference_count: int
    ) -> str:
        points = []
        for heading, body in sections:
            first = body.split("\n")[0].strip()
            if first and not first.startswith("_"):
                points.append(f"- **{heading}**: {first}")
        if not points:
            return "_The corpus held too little about this subject to draw conclusions._"
        intro = f"The key point of each section on {subject}, as its sources put it:"
        return "\n".join([intro, "", *points])

    # --- the blocking work --------------------------------------------------------------

    def _outline(self, subject: str, evidence: Sequence[Document], max_sections: int) -> Outline:
        subject_terms = set(terms(subject))
        title = subject[:1].upper() + subject[1:]
        candidates: list[str] = []
        seen: set[frozenset[str]] = {frozenset(subject_terms)}
        for doc in evidence:
            key = frozenset(terms(doc.title))
            if not key or key in seen:
                continue
            seen.add(key)
            candidates.append(doc.title)
        if len(candidates) < max_sections:
            for phrase in _keyphrases(evidence, subject_terms, max_sections * 2):
                key = frozenset(terms(phrase))
                if key not in seen:
                    seen.add(key)
                    candidates.append(phrase)
        if not candidates:
            return Outline(title=title, sections=(title,))
        weights = idf([terms(c) for c in candidates])
        vectors = [tfidf(terms(c), weights) for c in candidates]
        relevance = [1.0 - i / (len(candidates) + 1) for i in range(len(candidates))]
        chosen = mmr(relevance, vectors, max_sections, diversity=0.5)
        return Outline(title=title, sections=tuple(candidates[i] for i in sorted(chosen)))

    def _select(self, query: str, evidence: Sequence[Document], k: int) -> str:
        pool: list[_Candidate] = []
        for source, doc in enumerate(evidence):
            for position, sentence in enumerate(sentences(doc.body)):
                if len(words(sentence)) >= MIN_SENTENCE_WORDS and len(sentence) <= (
                    MAX_SENTENCE_CHARS
                ):
                    pool.append(_Candidate(sentence, source, position))
        if not pool:
            return "_The sources hold no passage about this._"
        tokens = [terms(c.text) for c in pool]
        weights = idf(tokens)
        vectors = [tfidf(t, weights) for t in tokens]
        target = tfidf(terms(query), weights)
        relevance = [cosine(target, v) for v in vectors]
        central = lexrank(vectors)
        top = max(central) or 1.0
        scores = [
            r + 0.25 * (c / top) * r for r, c in zip(relevance, central, strict=True)
        ]  # centrality only boosts sentences that are relevant in the first place
        chosen = mmr(scores, vectors, k, diversity=0.3, cutoff=RELEVANCE_CUTOFF)
        if not chosen:
            return "_The sources hold no passage about this._"
        ordered = sorted(chosen, key=lambda i: (pool[i].source, pool[i].position))
        lines = [f"{pool[i].text} [{pool[i].source + 1}]" for i in ordered]
        return "\n".join(lines)


def _keyphrases(evidence: Sequence[Document], exclude: set[str], limit: int) -> list[str]:
    """Frequent two-word phrases of content words, excluding the subject's own words."""
    counts: Counter[tuple[str, str]] = Counter()
    for doc in evidence:
        tokens = words(doc.body)
        for a, b in itertools.pairwise(tokens):
            if (
                a not in STOPWORDS
                and b not in STOPWORDS
                and len(a) > 2
                and len(b) > 2
                and not a.isdigit()
                and not b.isdigit()
                and not ({stem(a), stem(b)} & exclude)
            ):
                counts[(a, b)] += 1
    return [f"{a.capitalize()} {b}" for (a, b), n in counts.most_common(limit) if n > 1]
