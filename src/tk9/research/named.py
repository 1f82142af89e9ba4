"""Documents the subject's own article names: its parts, as the article itself lists them.

A subject's own article is the best list of what belongs in a report on it: *Stephen Hawking*
names general relativity and gravitational singularities, *Diabetes* names the blood sugar
level, *Fall of the Western Roman Empire* names the Western Roman Empire. Those documents often
never name the subject back (*Blood sugar level* does not say "diabetes"), so neither the
lexical search for the subject nor the required-phrase rule of :mod:`.relevance` finds them;
the article's own words do.

Only titles of two words or more count ("Western Roman Empire", "Immune system"): a one-word
title named in passing is as often another thing of the same spelling (*Black* for "black
hole", *Engine* for "steam engine", *Amazons* for "Amazon"). Pure functions over text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from tk9.research.documents import Document
from tk9.research.subject import JOINERS
from tk9.research.text import STOPWORDS, sentences, stem, words

LONGEST = 5
"""The longest title (in words, joining words included) looked for in an article's text."""


def title_roots(title: str) -> tuple[str, ...]:
    """A title's content words stemmed, without a parenthesised qualifier: "Competition
    (economics)" → ("competit",)."""
    return tuple(
        stem(w) for w in words(re.sub(r"\(.*?\)", "", title)) if w not in JOINERS and len(w) > 1
    )


def runs(text: str) -> list[tuple[str, ...]]:
    """Every run of 2 to :data:`LONGEST` stemmed words inside one sentence of ``text`` that
    starts and ends with a content word: the ways ``text`` could name a title."""
    out: dict[tuple[str, ...], None] = {}
    for sentence in sentences(text):
        tokens = words(sentence)
        stems = [stem(t) for t in tokens]
        for i, first in enumerate(tokens):
            if first in STOPWORDS:
                continue
            for n in range(2, LONGEST + 1):
                if i + n > len(tokens) or tokens[i + n - 1] in STOPWORDS:
                    continue
                out[tuple(stems[i : i + n])] = None
    return list(out)


def named_by(articles: Sequence[Document], docs: Iterable[Document]) -> list[Document]:
    """The documents of ``docs`` whose title (≥ 2 content words) one of ``articles`` names as
    a unit in its text, in the order of ``docs``; never one of ``articles`` itself."""
    mine = {a.uri for a in articles}
    held = {tuple(s for s in run if s not in JOINERS) for a in articles for run in runs(a.body)}
    out = []
    for doc in docs:
        roots = title_roots(doc.title)
        if doc.uri not in mine and len(roots) >= 2 and roots in held:
            out.append(doc)
    return out
