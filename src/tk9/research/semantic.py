"""Vectors for meaning: the source of embeddings is pluggable, the arithmetic is shared.

The pipeline hands the relevance, outline and coverage logic an :class:`Embedder` — a function
from texts to L2-normalised row vectors plus the thresholds that fit its geometry. With the
sentence-embedding model (``Retriever.embed``, all-MiniLM-L6-v2) the vectors are dense and
similar meanings score high even without shared words ("Roman Empire" for Rome); without it
(a build without the model, unit tests) :func:`lexical` stands in with TF-IDF vectors over the
texts of the call, whose cosines run lower, hence thresholds per embedder.

Everything here is pure numpy over at most a few hundred vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tk9.research.text import idf, terms, tfidf

Matrix = npt.NDArray[np.float32]
EmbedFn = Callable[[Sequence[str]], Matrix]


@dataclass(frozen=True, slots=True)
class Embedder:
    """Texts → unit vectors, and what "similar" means in that space.

    ``on_subject``: a passage this similar to the subject is about it; ``covers``: a source this
    similar to a key phrase speaks to that phrase; ``sentence``: the least similarity of a quoted
    sentence to the subject.
    """

    embed: EmbedFn
    kind: str
    on_subject: float
    covers: float
    sentence: float


def dense(embed: EmbedFn) -> Embedder:
    """The sentence-embedding model. Thresholds calibrated on the offline wiki (see
    docs/research.md: on-topic summaries score 0.45–0.75 against their subject, same-word
    traps such as *Bleach* for "coral reef bleaching" 0.2–0.35)."""
    return Embedder(embed, "dense", on_subject=0.42, covers=0.55, sentence=0.15)


def _lexical_embed(texts: Sequence[str]) -> Matrix:
    tokens = [terms(t) for t in texts]
    weights = idf(tokens)
    vocab = {t: i for i, t in enumerate(sorted(weights))}
    out = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float32)
    for row, toks in enumerate(tokens):
        for term, value in tfidf(toks, weights).items():
            out[row, vocab[term]] = value
    return out


def lexical() -> Embedder:
    """TF-IDF over the texts of one call: shared words only (fallback without the model)."""
    return Embedder(_lexical_embed, "lexical", on_subject=0.12, covers=0.2, sentence=0.05)


def normalise(matrix: Matrix) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Matrix = (matrix / norms).astype(np.float32)
    return out


def similarities(queries: Matrix, items: Matrix) -> Matrix:
    """Cosine of every query row with every item row (rows are unit vectors)."""
    if not len(queries) or not len(items):
        return np.zeros((len(queries), len(items)), dtype=np.float32)
    out: Matrix = (queries @ items.T).astype(np.float32)
    return out


def centrality(vectors: Matrix) -> npt.NDArray[np.float64]:
    """How typical each vector is of the set: its mean cosine to the others, in [0, 1]."""
    n = len(vectors)
    if n < 2:
        return np.ones(n)
    sims = vectors @ vectors.T
    mean = (sims.sum(axis=1) - np.diag(sims)) / (n - 1)
    low, high = float(mean.min()), float(mean.max())
    return np.asarray((mean - low) / (high - low) if high > low else np.ones(n))
