"""How a source names the subject: as the thing it speaks of, or only next to something else.

A document whose text names the subject is not always about it. Two patterns the quality bench
showed (docs/benchmarks.md), both told apart from the words around the mention, not from
meaning (a peer is as close in meaning as a part):

* **another of its kind** — *K2* "is the second-highest mountain on Earth, *after* Mount
  Everest"; *Denali* is third "*after* Mount Everest and Aconcagua"; the *July Revolution* is
  "a *second* French Revolution", "the French Revolution *of 1830*". Every mention compares
  the document's own subject with the one asked for, or names another instance of it
  (:func:`only_compared`).
* **missing the qualifier** — for "volcanoes of Japan", *Mauna Loa* is about a volcano but
  never names Japan. When the required phrase is narrowed by a phrase after it ("… of Japan",
  "… of ancient Egypt"), a source must name the narrowing words too (:func:`qualifiers`,
  :func:`holds_qualifiers`) — unless its title is the required phrase (*Volcano*: the
  general article on the head concept). A narrowing phrase *before* the required one is its
  head noun ("the structure of DNA", "the economy of ancient Rome") and is not required.

* **a work that shows it** — *Liberty Leading the People* "is a painting of the Romantic era
  by the French artist Eugène Delacroix, commemorating the July Revolution of 1830", and holds
  aloft "the flag of the French Revolution". A document whose first sentence says it *is* a
  work of art or fiction (a painting, a film, a novel, a song…) and does not name the subject
  there is about that work, whoever made it and whatever it shows; the subject is only what
  it depicts (:func:`depicts_only`). A work whose defining sentence names the subject —
  *Hamlet* "is a tragedy written by William Shakespeare" — speaks of it and is judged as usual.
* **a time reference** — *Late modern period* "began in 1789 with the *start of* the French
  Revolution": a mention that only dates something else ("the *start of*", "*since*",
  "*before*") counts as a comparison too.

And one pattern the other way: a source whose title is made of the subject's own words
(*Climate* for "climate change", *Industrialisation* for "the Industrial Revolution") is the
broader article on a part of the subject, even when its short text never names the whole
(:func:`broader`); and a source that names the thing a required phrase "X of Y" is of — *Ancient
Rome* holds "the Western Roman Empire" (its collapse), not "Fall of the Western Roman
Empire" — names the subject, though not in its words (:func:`names_object`).

Pure functions over text; no I/O.
"""

from __future__ import annotations

import re

from tk9.research.documents import Document
from tk9.research.subject import JOINERS, KeyPhrase, Subject, presence, required
from tk9.research.text import sentences, stem, words

COMPARING = frozenset(
    {
        "after",
        "following",
        "than",
        "unlike",
        "like",
        "besides",
        "behind",
        "outside",
        "beyond",
        "second",
        "third",
        "fourth",
        "fifth",
        "since",
        "before",
        "until",
    }
)
"""A word right before a mention that makes it a comparison, a time reference or another
instance ("a planet *outside* the Solar System", "fought *following* World War I")."""
TIME_MARKS = frozenset({"start", "beginning", "end", "eve", "aftermath"})
"""A noun that, with "of" before a mention, only dates something else by it ("began with the
*start of* the French Revolution", "on the *eve of* World War I"). Not "outbreak": "the
outbreak of World War I" is what a report on its causes is about."""
WORKS = (
    "painting|portrait|fresco|mural|film|movie|novel|novella|poem|song|album|opera|ballet|"
    "symphony|play|television series|video game|tragedy|photograph|sitcom|miniseries"
)
"""Kinds of works that *depict* what they show. Not a statue or a sculpture: a monument is a
place the subject may include (the *Great Sphinx of Giza*, "a limestone statue of a reclining
sphinx", stands by the pyramids of Giza)."""
_DEFINED_AS_WORK = re.compile(
    r"\b(?:is|was|are|were)\s+(?:an?|the)\s+(?:(?!(?:in|of|and|or)\b)[\w\-'’]+\s+){0,5}?"
    rf"(?:{WORKS})(?=\s*[,.;:(]|\s+(?:by|written|painted|directed|composed|created|produced|"
    r"of|about|depicting|commemorating|starring|in|from|that|which|set|based)\b)",
    re.IGNORECASE,
)
"""The first sentence of a work of art or fiction: "… is a painting of the Romantic era by …",
"… is a 1942 American romantic drama film directed by …". The kind must end the noun phrase
(a comma, "by", "about"…), so "a musical instrument", "a single cell", "a video game designer"
or "a series of fortifications" are not works."""
_YEAR = re.compile(r"^1[0-9]{3}$|^20[0-9]{2}$")


def qualifiers(subject: Subject) -> list[KeyPhrase]:
    """Phrases that narrow the required phrase from after it ("Japan" in "volcanoes of
    Japan"): the phrases of later runs of words, when the subject is not joined by "and"."""
    keys = required(subject)
    if subject.coordinate or len(keys) != 1:
        return []
    segment = keys[0].segment
    return [p for p in subject.phrases if p.segment > segment]


def holds_qualifiers(subject: Subject, doc: Document) -> bool:
    """Whether ``doc`` names every word of every narrowing phrase (title or text)."""
    wanted = {r for q in qualifiers(subject) for r in q.roots}
    if not wanted:
        return True
    held = {stem(w) for w in words(f"{doc.title} {doc.body}")}
    return wanted <= held


def only_compared(subject: Subject, doc: Document) -> bool:
    """Whether every mention of the subject's required phrase in ``doc``'s text compares it
    with something else or names another instance of it (see the module docstring). False
    when the text never names it as a unit (nothing to judge) or the subject has a year."""
    if subject.refinements:
        return False  # "French Revolution of 1789" asked for: a year names the instance
    mentions = 0
    for key in required(subject):
        for sentence in sentences(doc.body):
            tokens = words(sentence)
            for start, end in _occurrences(tokens, key.roots):
                mentions += 1
                if not _comparing(tokens, start, end):
                    return False
    return mentions > 0


def depicts_only(subject: Subject, doc: Document) -> bool:
    """Whether ``doc`` is a work of art or fiction whose defining (first) sentence does not
    name the subject's required phrase: *Liberty Leading the People* for the French Revolution
    (see the module docstring). False for any other document."""
    lead = sentences(doc.body)[:1]
    if not lead or not _DEFINED_AS_WORK.search(lead[0]):
        return False
    tokens = words(lead[0])
    return not any(_occurrences(tokens, key.roots) for key in required(subject))


def _occurrences(tokens: list[str], roots: tuple[str, ...]) -> list[tuple[int, int]]:
    """(first, last) token index of each run of ``tokens`` whose stems, skipping the short
    joining words between them ("theory *of* relativity"), are ``roots``."""
    if not roots:
        return []
    stems = [stem(t) for t in tokens]
    out = []
    for i, first in enumerate(stems):
        if first != roots[0]:
            continue
        j, k = i + 1, 1
        while k < len(roots) and j < len(tokens):
            if stems[j] == roots[k]:
                k += 1
            elif tokens[j] not in {"of", "the", "and", "de", "von"}:
                break
            j += 1
        if k == len(roots):
            out.append((i, j - 1 if len(roots) > 1 else i))
    return out


def _comparing(tokens: list[str], start: int, end: int) -> bool:
    dating = tokens[max(0, start - 3) : start]
    if dating[-1:] == ["the"]:
        dating = dating[:-1]
    if len(dating) >= 2 and dating[-1] == "of" and dating[-2] in TIME_MARKS:
        return True  # "the start of the French Revolution": a date for something else
    before = tokens[max(0, start - 2) : start]
    if before and (before[-1] in COMPARING or (len(before) == 2 and before[0] in COMPARING)):
        # "after Mount Everest", "second French Revolution", "than the Nile"
        return before[-1] in COMPARING or before[-1] in {"the", "a", "an"}
    after = tokens[end + 1 : end + 3]
    return len(after) == 2 and after[0] == "of" and bool(_YEAR.match(after[1]))


SHARED_PREFIX = 6
"""Two words whose stems share this many first letters are the same word for :func:`broader`
("industrialis" and "industri")."""


def broader(subject: Subject, doc: Document) -> bool:
    """Whether every word of ``doc``'s title is a word of the subject's key phrases (same
    stem, or stems sharing :data:`SHARED_PREFIX` first letters): *Climate* for "climate
    change"; not *Albert A. Michelson* for "Albert Einstein" (Michelson is not)."""
    mine = {r for p in subject.phrases for r in p.roots}
    title = [stem(w) for w in words(re.sub(r"\(.*?\)", "", doc.title)) if len(w) > 2]
    return bool(title) and all(
        any(
            t == r or (len(t) >= SHARED_PREFIX and t[:SHARED_PREFIX] == r[:SHARED_PREFIX])
            for r in mine
        )
        for t in title
    )


def names_object(subject: Subject, doc: Document) -> bool:
    """Whether ``doc`` holds, as a unit, the object of a required phrase "X of Y" — the name
    after its first "of", when it has ≥ 2 words ("Western Roman Empire" in "Fall of the
    Western Roman Empire"). A single word ("relativity" in "theory of relativity") is too
    loose to count."""
    for key in required(subject):
        _, of, tail = key.text.lower().partition(" of ")
        roots = tuple(stem(w) for w in words(tail) if w not in JOINERS and len(w) > 1)
        if of and len(roots) >= 2 and presence(KeyPhrase(tail, roots), doc) >= 0.5:
            return True
    return False
