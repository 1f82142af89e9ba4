"""Honest outcomes: how well the evidence covers the subject, and what to tell the user.

Each key phrase of the subject is covered by a source that holds it as a unit (title or text)
or is close to it in meaning (embedding cosine ≥ the embedder's ``covers``). The subject's
coverage is the weighted share of its phrases covered. Then:

* no phrase covered, or the required phrase (:func:`.subject.required`) missing → the Browser fails
  with :func:`describe_uncovered`: what the corpus is, what it lacks, what related subjects it
  holds;
* some phrase or a number of the subject ("2031") that no source speaks to → a warning: the run
  ends ``completed_with_warnings`` and the report says what is missing.

Pure functions: similarities come in as numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tk9.events import CoveragePayload, PhraseCoverage, SourceRelevance
from tk9.research.documents import Document
from tk9.research.relevance import Judged
from tk9.research.subject import KeyPhrase, Subject, presence, required
from tk9.research.text import counted


@dataclass(frozen=True, slots=True)
class PhraseScore:
    phrase: KeyPhrase
    score: float
    covered: bool


@dataclass(frozen=True, slots=True)
class Coverage:
    """How the chosen sources cover the subject."""

    phrases: tuple[PhraseScore, ...]
    missing_refinements: tuple[str, ...]
    score: float
    required: tuple[KeyPhrase, ...] = ()

    @property
    def missing(self) -> list[str]:
        return [p.phrase.text for p in self.phrases if not p.covered]

    @property
    def fails(self) -> bool:
        """The evidence does not cover the subject: nothing, or its most telling phrase."""
        if not self.phrases:
            return False
        if not any(p.covered for p in self.phrases):
            return True
        needed = [p for p in self.phrases if p.phrase in self.required]
        return bool(needed) and not any(p.covered for p in needed)

    @property
    def partial(self) -> bool:
        return bool(self.missing or self.missing_refinements)

    def summary(self) -> str:
        covered = sum(p.covered for p in self.phrases)
        text = f"The sources cover {covered} of {len(self.phrases)} key phrase(s) of the subject"
        if self.missing:
            text += " (not: " + ", ".join(f"“{m}”" for m in self.missing) + ")"
        if self.missing_refinements:
            text += "; none mentions " + ", ".join(self.missing_refinements)
        return text + "."


def measure(
    subject: Subject,
    sources: Sequence[Document],
    phrase_similarity: Sequence[Sequence[float]] | None,
    covers: float,
) -> Coverage:
    """Coverage of ``subject`` by ``sources``; ``phrase_similarity[p][s]`` is the cosine of
    phrase ``p`` with source ``s`` (None without an embedder)."""
    scores = []
    total = sum(p.weight for p in subject.phrases) or 1.0
    covered_weight = 0.0
    for p, key in enumerate(subject.phrases):
        lexical = max((presence(key, doc) for doc in sources), default=0.0)
        dense = 0.0
        if phrase_similarity is not None and sources:
            dense = max(float(v) for v in phrase_similarity[p])
        covered = lexical >= 0.5 or (phrase_similarity is not None and dense >= covers)
        score = max(min(1.0, lexical * 1.0), min(1.0, dense / covers) if covers else 0.0)
        score = 1.0 if covered else min(score, 0.99)
        scores.append(PhraseScore(key, round(score, 3), covered))
        covered_weight += key.weight * (1.0 if covered else 0.0)
    text = " ".join(f"{d.title} {d.body}" for d in sources)
    missing = tuple(r for r in subject.refinements if r not in text)
    share = covered_weight / total if subject.phrases else 1.0
    return Coverage(tuple(scores), missing, round(share, 3), tuple(required(subject)))


def payload(coverage: Coverage, judged: Sequence[Judged], cited: set[str]) -> CoveragePayload:
    """The ``coverage`` event: phrases, and every judged source with its relevance."""
    return CoveragePayload(
        score=coverage.score,
        phrases=[
            PhraseCoverage(phrase=p.phrase.text[:200], score=p.score, covered=p.covered)
            for p in coverage.phrases[:50]
        ],
        sources=[
            SourceRelevance(
                title=j.document.title[:500],
                uri=j.document.uri[:2048],
                relevance=round(max(0.0, min(1.0, j.score)), 3),
                cited=j.document.uri in cited,
            )
            for j in judged[:100]
        ],
        summary=coverage.summary(),
    )


def describe_uncovered(
    subject: Subject, coverage: Coverage | None, corpus: str, related: Sequence[str]
) -> str:
    """The Browser's error when the evidence does not cover the subject: what the corpus is,
    which part of the subject it lacks, and related subjects it does hold."""
    lacking = coverage.missing if coverage is not None else [p.text for p in subject.phrases]
    if lacking:
        part = ", ".join(f"“{m}”" for m in lacking)
        what = f"{corpus} say nothing on {part}"
    else:
        together = " and ".join(f"“{p.text}”" for p in subject.phrases)
        what = f"{corpus} mention {together}, but no document is about them together"
    text = f"the corpus holds nothing about “{subject.text}”: {what}"
    if related:
        text += "; related subjects it does hold: " + ", ".join(related[:5])
    return text + ". Add documents with TK9_CORPUS_DIR or configure a search provider"


def describe_corpus(total: int, wiki: bool) -> str:
    """What the corpus is, in words a user recognises."""
    if wiki:
        return f"the offline Wikipedia summaries ({total:,} articles)"
    return f"the corpus ({total:,} documents)"


def describe_report(
    coverage: Coverage,
    subject: Subject,
    cited: int,
    on_subject: int,
    named: int,
    prose: int,
    full_report: int,
) -> str:
    """The report's "about" paragraph: how its ``cited`` sources cover the subject, of the
    ``on_subject`` documents the corpus holds on it and ``named`` ones that only name it, how
    many words of ``prose`` that made, and why it is short (fewer documents on the subject than
    a ``full_report`` needs) or how the subject was read."""
    about = [
        f"{coverage.summary()} The report quotes {counted(cited, 'source')} of "
        f"{counted(on_subject, 'document')} the corpus holds on the subject"
        + (
            f" and {counted(named, 'document')} that {'names' if named == 1 else 'name'} it"
            if named
            else ""
        )
        + f" ({prose:,} words of prose)."
    ]
    if named:
        about.append(
            "From a document that only names the subject, the report quotes just the "
            "sentences that name it."
        )
    if on_subject < full_report:
        about.append(
            f"The corpus holds only {counted(on_subject, 'document')} on this subject, so "
            "this report is shorter than a full one (800–1,500 words)."
        )
    if subject.framing:
        about.append(f"The subject was read as asking about: {subject.framing}.")
    return " ".join(about)
