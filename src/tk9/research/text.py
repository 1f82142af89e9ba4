"""Plain-text building blocks of the extractive engine: tokens, sentences, TF-IDF, ranking.

Sentence selection is the core of the offline product, so it is written here rather than
pulled in from scikit-learn (which would bring numpy and scipy into the default install for a
few dozen lines of arithmetic over sparse dictionaries). The vectors are sparse ``dict``s;
every function is pure and deterministic.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence

import Stemmer  # type: ignore[import-not-found]

STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "one",
        "two",
        "many",
        "much",
        "may",
        "might",
        "must",
        "us",
        "use",
        "used",
        "using",
        "known",
        "well",
        "often",
        "however",
        "although",
        "since",
        "among",
        "within",
        "without",
        "include",
        "includes",
        "including",
        "called",
        "became",
        "become",
        "like",
        "new",
        "first",
    ]
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Dr.", "Mr.", "Mrs.", "St.", "U.S.", "c.")

Vector = dict[str, float]
_SNOWBALL = Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, keeping inner apostrophes)."""
    return [w.lower() for w in _WORD.findall(text)]


def terms(text: str) -> list[str]:
    """Content terms: words without stopwords and one-letter tokens, stemmed (:func:`stem`)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def stem(word: str) -> str:
    """The Snowball English stem of a lower-case word: "tides" → tide, "energies" → energi.

    The one stemmer of tk9: relevance, sentence ranking and the full-text index (which indexes
    stemmed text, see :mod:`tk9.research.corpus`) all use it, so a word matches the same way
    everywhere. It only folds inflections and derivations ("Romeo" stays romeo, "coral" stays
    coral); relating "Roman" to "Rome" or "tidal" to "tide" is left to sentence embeddings."""
    return _stem(word)


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_SNOWBALL.stemWord(word))


def stems(text: str) -> str:
    """Every word of ``text`` stemmed, space-separated: what the full-text index stores."""
    return " ".join(stem(w) for w in words(text))


def sentences(text: str) -> list[str]:
    """Split prose into sentences; keeps abbreviations such as "e.g." inside a sentence."""
    flat = " ".join(text.split())
    if not flat:
        return []
    parts = _SENTENCE_END.split(flat)
    out: list[str] = []
    for part in parts:
        if out and _ends_with_abbreviation(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return [s.strip() for s in out if s.strip()]


def _ends_with_abbreviation(text: str) -> bool:
    """Whether ``text`` ends with an abbreviation as a whole word ("c. 1450"), not a word
    that merely ends in its letters ("arc.", "Inc.")."""
    last = text.rsplit(None, 1)[-1] if text.split() else ""
    return last.lstrip("(\"'") in _ABBREVIATIONS


def idf(documents: Sequence[Sequence[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of every term in ``documents``."""
    df: Counter[str] = Counter()
    for doc in documents:
        df.update(set(doc))
    n = len(documents)
    return {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}


def tfidf(tokens: Sequence[str], weights: dict[str, float]) -> Vector:
    """A unit-length TF-IDF vector (sub-linear term frequency)."""
    counts = Counter(tokens)
    vec = {t: (1.0 + math.log(c)) * weights.get(t, 1.0) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two unit vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def lexrank(
    vectors: Sequence[Vector], threshold: float = 0.1, damping: float = 0.85
) -> list[float]:
    """LexRank centrality: PageRank over the graph of sentences with cosine above ``threshold``."""
    n = len(vectors)
    if n == 0:
        return []
    edges: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if cosine(vectors[i], vectors[j]) > threshold:
                edges[i].append(j)
                edges[j].append(i)
    scores = [1.0 / n] * n
    for _ in range(30):
        new = [(1.0 - damping) / n] * n
        for i in range(n):
            if edges[i]:
                share = damping * scores[i] / len(edges[i])
                for j in edges[i]:
                    new[j] += share
            else:
                new[i] += damping * scores[i]
        delta = sum(abs(a - b) for a, b in zip(new, scores, strict=True))
        scores = new
        if delta < 1e-6:
            break
    return scores


def mmr(
    relevance: Sequence[float],
    vectors: Sequence[Vector],
    k: int,
    diversity: float = 0.3,
    cutoff: float = 0.0,
) -> list[int]:
    """Maximal marginal relevance: pick up to ``k`` indices, trading relevance for novelty.

    Candidates whose relevance is at or below ``cutoff`` are never picked, so a section only
    quotes sentences that are about its subject even when fewer than ``k`` qualify.
    """
    pool = [i for i, r in enumerate(relevance) if r > cutoff]
    chosen: list[int] = []
    while pool and len(chosen) < k:

        def score(i: int) -> float:
            redundancy = max((cosine(vectors[i], vectors[j]) for j in chosen), default=0.0)
            return (1.0 - diversity) * relevance[i] - diversity * redundancy

        best = max(pool, key=lambda i: (score(i), -i))
        pool.remove(best)
        if chosen and max(cosine(vectors[best], vectors[j]) for j in chosen) > 0.8:
            continue  # a near-duplicate of a sentence already quoted
        chosen.append(best)
    return chosen


def counted(n: int, noun: str) -> str:
    """``"1 section"``, ``"3 sections"``: a count with its noun, for messages people read."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
