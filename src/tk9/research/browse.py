"""The Browser's search: the candidates for a subject, and the judging of them.

:func:`gather` searches the corpus for a parsed subject — its core and framing, each key
phrase alone, passages close in meaning, the articles the subject's own article names — and
refines the subject with what it found; :func:`judge_candidates` decides which candidates are
on the subject (:mod:`.relevance`), with the found documents as a second description
(:mod:`.kinship`). The Browser agent (:mod:`.pipeline`) reports progress around them.
"""

from __future__ import annotations

from tk9.research.documents import Document
from tk9.research.kinship import with_found_kin
from tk9.research.relevance import Judged, Relevance, is_main, judge
from tk9.research.retrieval import Retriever
from tk9.research.semantic import Embedder, Matrix, similarities
from tk9.research.subject import Subject, refine, required, weighted
from tk9.research.text import sentences

INITIAL_SOURCES = 14
"""The most documents a report draws on (those judged most on the subject)."""
BROWSER_CANDIDATES = 60
"""Matches the Browser judges for relevance."""
DENSE_CANDIDATES = 30
"""Passages the hybrid search adds (their documents) when the embedding model is loaded."""


async def gather(
    retriever: Retriever, understood: Subject, relevance: Relevance
) -> tuple[list[Document], Subject, set[str]]:
    """The candidate documents, the subject refined and weighted by them, and the URIs of the
    documents the subject's own article names."""
    query = f"{understood.core} {understood.field}".strip()
    candidates = await retriever.search(query, BROWSER_CANDIDATES)
    for key in understood.phrases if len(understood.phrases) > 1 else ():
        # each run of words alone too: "ancient Rome" finds what "economy" drowns out
        extra = await retriever.search(key.text, BROWSER_CANDIDATES // 2)
        known = {d.uri for d in candidates}
        candidates += [d for d in extra if d.uri not in known]
    if DENSE_CANDIDATES and retriever.embedder is not None:
        # passages close in meaning: articles on the subject that never use its words
        known = {d.uri for d in candidates}
        for hit in await retriever.passages(query, DENSE_CANDIDATES):
            if hit.document.uri not in known:
                known.add(hit.document.uri)
                candidates.append(hit.document)
    weights = {c.root: c.weight for c in relevance.concepts}
    understood = weighted(refine(understood, candidates), weights)
    named: set[str] = set()
    if retriever.embedder is not None:
        # what the subject's own article names: its parts, even those that never name it
        mains = [d for d in candidates if is_main(understood, d)]
        known = {d.uri for d in candidates}
        for doc in await retriever.named_by(mains):
            named.add(doc.uri)
            if doc.uri not in known:
                known.add(doc.uri)
                candidates.append(doc)
    return candidates, understood, named


def judge_candidates(
    embedder: Embedder, understood: Subject, candidates: list[Document], named: set[str]
) -> tuple[list[Judged], Matrix | None]:
    """Judge the candidates (blocking: embeds them). Returns the judgements and, with a
    dense embedder, the similarity of each key phrase to each candidate."""
    if embedder.kind != "dense" or not candidates:
        return judge(understood, candidates, None, None), None
    query = understood.text  # meaning with its framing: "Invention of the telephone" is
    # closer to *Alexander Graham Bell* (0.66) than "telephone" is (0.46)
    phrases = [p.text for p in understood.phrases]
    texts = [query, *phrases, *(passage(d) for d in candidates)]
    vectors = embedder.embed(texts)
    heads, docs = vectors[: 1 + len(phrases)], vectors[1 + len(phrases) :]
    sims = similarities(heads, docs)
    # cosine with the closest required phrase (:func:`.subject.required`)
    rows = [understood.phrases.index(k) + 1 for k in required(understood)]
    near = sims[rows].max(axis=0) if rows else None
    # the subject's own articles as a second anchor (see :func:`.relevance.judge`)
    mains = [i for i, d in enumerate(candidates) if is_main(understood, d)]
    kin = similarities(docs[mains], docs).max(axis=0) if mains else None
    judged = judge(
        understood,
        candidates,
        list(sims[0]),
        None if near is None else list(near),
        (embedder.on_subject, 0.03, embedder.covers, 0.2),
        None if kin is None else [float(v) for v in kin],
        named,
    )
    # what names the subject and resembles the documents found on it (:mod:`.kinship`)
    judged = with_found_kin(understood, judged, candidates, docs, INITIAL_SOURCES)
    return judged, sims[1:]


def passage(doc: Document) -> str:
    """What a document is about, for its embedding: its title and opening sentences."""
    opening = " ".join(sentences(doc.body)[:3])
    return f"{doc.title}. {opening}"[:1500]


def columns(sims: Matrix, candidates: list[Document], chosen: list[Document]) -> list[list[float]]:
    """Phrase × candidate similarities restricted to ``chosen`` (a subset of candidates)."""
    where = {d.uri: i for i, d in enumerate(candidates)}
    return [[float(row[where[d.uri]]) for d in chosen if d.uri in where] for row in sims]
