"""Hybrid passage retrieval: BM25 over stemmed words fused with embedding similarity.

Lexical search finds the passages that use the subject's words, and so also "Bleach" for
"coral reef bleaching"; dense search finds passages that *mean* the subject even in other
words ("Tide" for "tidal energy") but can drift to loosely related text. Reciprocal rank
fusion (each list contributes ``1 / (60 + rank)``) keeps what ranks well in both without
calibrating BM25 against cosine. Every hit carries both scores and its passage embedding, so
callers can apply their own thresholds or cluster passages without embedding them again.

Embedding the corpus (:func:`embed_corpus`) happens once per corpus and model and reports
progress; afterwards only new or changed passages are embedded.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tk9.research import passages
from tk9.research.corpus import CorpusIndex, fts_stems
from tk9.research.documents import Document
from tk9.research.embedding import Embedder
from tk9.research.vectors import VectorIndex

RRF_K = 60
CHUNK = 256
"""Passages embedded and saved per transaction (an interrupted run keeps what it did)."""

Progress = Callable[[int, int], None]

_vector_cache: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[int, int], VectorIndex]] = {}
"""Nearest-neighbour indexes by (index file, model, sources) with the version they were built
at: shared by the runs of one process, so a warm run does not reload the embeddings."""


@dataclass(frozen=True, slots=True)
class PassageHit:
    """One retrieved passage of a document."""

    document: Document
    passage_id: int
    ordinal: int
    """Position of the passage in its document (0 = the lead)."""
    text: str
    score: float
    """Fused reciprocal-rank score, higher is better (only comparable within one search)."""
    lexical: float | None
    """BM25 of the passage (higher is better); None when the words did not match."""
    dense: float | None
    """Cosine similarity of the passage and the query; None without embeddings."""
    vector: NDArray[np.float32] | None
    """The passage's unit embedding (title + passage), None when not embedded."""


@dataclass(frozen=True, slots=True)
class EmbedReport:
    """What one :func:`embed_corpus` call did."""

    embedded: int
    pending: int
    """Passages left without an embedding because the time budget ran out (embedded by a
    later call; until then only lexical search finds them)."""


def embed_corpus(
    index: CorpusIndex,
    embedder: Embedder,
    sources: Sequence[str],
    progress: Progress | None,
    budget: float | None = None,
    stop: threading.Event | None = None,
) -> EmbedReport:
    """Embed the passages of ``sources`` that have no embedding for this model yet, every
    document's lead passage first. ``progress(done, total)`` is called after every batch.
    With ``budget`` (seconds) it stops after the first chunk that ends past it; setting
    ``stop`` (a cancelled run) stops it after the current chunk."""
    if not sources:
        return EmbedReport(0, 0)
    with index.lock:
        todo = passages.pending(index.db, embedder.model_id, sources)
    total = len(todo.hashes)
    if progress is not None:
        progress(0, total)
    deadline = None if budget is None else time.monotonic() + budget
    for start in range(0, total, CHUNK):
        late = deadline is not None and time.monotonic() > deadline
        if late or (stop is not None and stop.is_set()):
            return EmbedReport(start, total - start)
        texts = todo.texts[start : start + CHUNK]

        def report(done: int, _: int, start: int = start) -> None:
            if progress is not None:
                progress(start + done, total)

        vectors = embedder.embed(texts, cache=False, progress=report)
        with index.lock, index.write():
            passages.store(index.db, embedder.model_id, todo.hashes[start : start + CHUNK], vectors)
    return EmbedReport(total, 0)


def vector_index(index: CorpusIndex, model: str, sources: Sequence[str]) -> VectorIndex:
    """The nearest-neighbour index of ``sources``' embedded passages, cached until the corpus
    or its embeddings change (HNSW graphs of big corpora are saved beside the index)."""
    key = (str(index.path.resolve()), model, tuple(sorted(sources)))
    with index.lock:
        version = (
            index.generation_locked(),
            index.db.execute(
                "SELECT count(*) FROM embeddings WHERE model = ?", (model,)
            ).fetchone()[0],
        )
        cached = _vector_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        ids, vectors = passages.load(index.db, model, sources)
    name = hashlib.blake2b(repr(key).encode(), digest_size=8).hexdigest()
    built = VectorIndex.build(ids, vectors, index.path.parent / "ann" / f"{name}.faiss")
    with index.lock:
        _vector_cache[key] = (version, built)
    return built


def lexical_passages(
    index: CorpusIndex, query: str, sources: Sequence[str], limit: int
) -> list[tuple[int, float]]:
    """Passage ids and BM25 scores (higher is better) for ``query``'s stemmed words."""
    match = fts_stems(query)
    if not match or not sources:
        return []
    marks = ",".join("?" * len(sources))
    sql = (
        "SELECT p.id, bm25(passage_terms, 3.0, 1.0) AS rank FROM passage_terms "
        "JOIN passages p ON p.id = passage_terms.rowid JOIN documents d ON d.id = p.doc_id "
        f"WHERE passage_terms MATCH ? AND d.source IN ({marks}) ORDER BY rank LIMIT ?"
    )
    with index.lock:
        rows = index.db.execute(sql, (match, *sources, limit)).fetchall()
    return [(int(pid), -float(rank)) for pid, rank in rows]


def fuse(*rankings: Sequence[int], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion of ranked id lists: ``sum(1 / (k + rank))``, rank from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return scores


def search_passages(
    index: CorpusIndex,
    embedder: Embedder | None,
    query: str,
    sources: Sequence[str],
    limit: int = 20,
    exclude: Iterable[str] = (),
    vector: NDArray[np.float32] | None = None,
) -> list[PassageHit]:
    """The ``limit`` best passages for ``query``: BM25 and cosine rankings fused (RRF).

    ``vector`` overrides the query's embedding (e.g. a heading's, or a mean of several).
    Without an embedder and ``vector`` the ranking is lexical only. Passages of documents
    whose URI is in ``exclude`` are skipped.
    """
    if not sources:
        return []
    excluded = set(exclude)
    pool = max(50, 5 * limit)
    lexical = dict(lexical_passages(index, query, sources, pool + len(excluded)))
    dense: dict[int, float] = {}
    vectors: VectorIndex | None = None
    if vector is None and embedder is not None and query.strip():
        vector = embedder.embed([query])[0]
    if vector is not None and embedder is not None:
        vectors = vector_index(index, embedder.model_id, sources)
        ids, scores = vectors.search(vector, pool + len(excluded))
        dense = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
    fused = fuse(list(lexical), list(dense))
    if vectors is not None:
        # a passage not embedded yet (the budget ran out) has no dense rank: count its lexical
        # rank twice rather than let it fall behind every passage found by both
        for rank, pid in enumerate(lexical, start=1):
            if pid not in dense and vectors.vector(pid) is None:
                fused[pid] += 1.0 / (RRF_K + rank)
    rows = _passages(index, list(fused))
    hits: list[PassageHit] = []
    for pid in sorted(fused, key=lambda p: (-fused[p], p)):
        row = rows.get(pid)
        if row is None or row[0].uri in excluded:
            continue
        doc, ordinal, text = row
        stored = vectors.vector(pid) if vectors is not None else None
        cosine = dense.get(pid)
        if cosine is None and stored is not None and vector is not None:
            cosine = float(stored @ vector)
        hits.append(
            PassageHit(doc, pid, ordinal, text, fused[pid], lexical.get(pid), cosine, stored)
        )
        if len(hits) == limit:
            break
    return hits


def _passages(index: CorpusIndex, ids: Sequence[int]) -> dict[int, tuple[Document, int, str]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    sql = (
        "SELECT p.id, p.ordinal, p.text, d.uri, d.title, d.body FROM passages p "
        f"JOIN documents d ON d.id = p.doc_id WHERE p.id IN ({marks})"
    )
    with index.lock:
        rows = index.db.execute(sql, tuple(ids)).fetchall()
    return {
        int(pid): (Document(uri=uri, title=title, body=body), int(ordinal), text)
        for pid, ordinal, text, uri, title, body in rows
    }
