"""An outline from the evidence: clusters of passages, named for their content, in reading order.

A section per article title gave "Telephone" a section holding a sentence on patents. Instead,
the quotable passages on the subject are grouped by meaning (:func:`cluster`), each group is
named for what it holds (:func:`name`: the title of the document most of it comes from, or else
its most distinctive two-word phrase), and the groups are put in the order a reader expects
(:func:`order`): background first, then the subject's parts, effects and "today" last; a
framing in the subject reorders that — "causes of…" puts causes first, "invention of…" the
inventor and precursors, then the invention, then its impact; "history of…" is chronological.

*Why numpy k-means rather than scikit-learn:* a run clusters at most a few hundred vectors; a
deterministic spherical k-means (farthest-first seeding from the most central vector, so the
same evidence always gives the same outline) is 30 lines, while scikit-learn would add
scikit-learn + scipy (≈ 60 MB) to the default install for it.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tk9.research.semantic import Matrix
from tk9.research.text import STOPWORDS, stem, words

Labels = npt.NDArray[np.int64]

_CAUSE = re.compile(
    r"\b(caus\w*|due to|because|result(?:s|ed)? (?:of|from)|trigger\w*|leads? to|driv\w+|"
    r"factors?|risk|stress\w*|rising|increase[sd]?)\b",
    re.I,
)
_EFFECT = re.compile(
    r"\b(effects?|impacts?|consequen\w+|today|modern|current\w*|future|legacy|influen\w+|"
    r"threat\w*|loss|decline|damage\w*|economic|society|widely|worldwide|popular\w*)\b",
    re.I,
)
_BACKGROUND = re.compile(
    r"\b(is an?|are an?|refers? to|defined|consists? of|origin\w*|ancient|early|precursor\w*|"
    r"before|predecessor\w*|history|historical\w*|first)\b",
    re.I,
)
_PERSON = re.compile(r"\b(born|died|he|she|his|her|inventor|scientist|engineer|was an?)\b", re.I)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


def cluster(vectors: Matrix, k: int, iterations: int = 25) -> Labels:
    """Spherical k-means with deterministic farthest-first seeds; labels per row."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = max(1, min(k, n))
    sims = vectors @ vectors.T
    seeds = [int(np.argmax(sims.sum(axis=1)))]
    while len(seeds) < k:
        nearest = sims[:, seeds].max(axis=1)
        seeds.append(int(np.argmin(nearest)))
    centres = vectors[seeds].copy()
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        new = np.argmax(vectors @ centres.T, axis=1).astype(np.int64)
        if _ > 0 and np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = vectors[labels == c]
            if len(members):
                mean = members.mean(axis=0)
                norm = float(np.linalg.norm(mean))
                centres[c] = mean / norm if norm else centres[c]
    return labels


def distinctive_phrase(
    texts: Sequence[str], others: Sequence[str], exclude: set[str]
) -> str | None:
    """The two-word phrase of content words most frequent in ``texts`` relative to ``others``
    (without a word of the subject: "Supermassive black" is half a phrase), as written in the
    texts, capitalised as a heading."""

    def bigrams(items: Sequence[str]) -> Counter[tuple[str, str]]:
        counts: Counter[tuple[str, str]] = Counter()
        for text in items:
            tokens = words(text)
            for a, b in itertools.pairwise(tokens):
                if _content(a) and _content(b) and not ({stem(a), stem(b)} & exclude):
                    counts[(a, b)] += 1
        return counts

    mine, theirs = bigrams(texts), bigrams(others)
    scored = [(n / (1 + theirs[pair]), n, pair) for pair, n in mine.items() if n >= 2]
    if not scored:
        return None
    _, _, (a, b) = max(scored)
    for text in texts:  # as written: "Tenzing Norgay", not "Tenzing norgay"
        found = re.search(rf"\b{re.escape(a)}\W+{re.escape(b)}\b", text, re.IGNORECASE)
        if found:
            written = " ".join(found.group(0).split())
            return written[:1].upper() + written[1:]
    return f"{a.capitalize()} {b}"


def _content(word: str) -> bool:
    return word not in STOPWORDS and len(word) > 2 and not word.isdigit()


def stage(texts: Sequence[str], framing: str) -> float:
    """Where a group of passages belongs in the report, from 0 (first) to 1 (last)."""
    joined = " ".join(texts)
    n = max(1, len(texts))
    cause = len(_CAUSE.findall(joined)) / n
    effect = len(_EFFECT.findall(joined)) / n
    background = len(_BACKGROUND.findall(joined)) / n
    years = [int(y) for y in _YEAR.findall(joined)]
    if framing == "history" and years:
        return min(1.0, max(0.0, (float(np.median(years)) - 1400) / 650))
    if framing == "causes":
        return 0.5 - 0.4 * min(1.0, cause) + 0.3 * min(1.0, effect)
    if framing == "invention":
        person = len(_PERSON.findall(joined)) / n
        early = min(years) if years else 2100
        return 0.5 - 0.3 * min(1.0, person) - 0.1 * (early < 1900) + 0.3 * min(1.0, effect)
    return 0.5 - 0.3 * min(1.0, background) + 0.3 * min(1.0, effect)


def order(groups: Sequence[Sequence[str]], framing: str) -> list[int]:
    """Indices of ``groups`` in reading order (ties keep the given order)."""
    stages = [stage(g, framing) for g in groups]
    return sorted(range(len(groups)), key=lambda i: (round(stages[i], 3), i))
