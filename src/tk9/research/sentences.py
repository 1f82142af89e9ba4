"""Quotable units: a sentence, with the sentence before it when its opening depends on it.

"It is the highest mountain in Japan" means nothing after a sentence about another subject.
A sentence that opens with an anaphor — a pronoun ("It", "They", "He"), a pointer ("This",
"These", "Such"), a connective ("However", "Later that century") or a generic back-reference
("The company", "The species") — is only quoted together with the sentence(s) it leans on, from
the same document; when that chain would be longer than :data:`MAX_CHAIN` sentences, or starts
the document, the sentence is not quoted at all.

Pure functions over text; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tk9.research.documents import Document
from tk9.research.text import sentences, words

MIN_WORDS = 6
MAX_CHARS = 600
MAX_CHAIN = 5
"""At most this many sentences quoted together to keep an anaphor's antecedent."""

_ANAPHORS = re.compile(
    r"^(?:it|its|it's|this|these|that|those|they|their|theirs|them|he|his|him|she|her|hers|"
    r"such|both|either|neither|another|other|others|the latter|the former|the same|"
    r"however|also|therefore|thus|hence|meanwhile|moreover|furthermore|nevertheless|"
    r"in addition|additionally|consequently|instead|otherwise|likewise|similarly|"
    r"then|there|here|later|afterwards|subsequently|in turn|as a result|despite this|"
    r"by then|at the time|at that time|in the same year|the following year|"
    r"the next year|the previous year|that year|earlier|soon|eventually|"
    r"the (?:company|band|group|city|town|country|state|species|film|game|book|album|song|"
    r"series|show|team|party|organization|organisation|firm|device|machine|process|method|"
    r"system|building|work|novel|play|school|university|region|island|river|mountain|"
    r"area|site|project|programme|program|movement|war|battle|ship|church|disease|"
    r"couple|pair|family|two|three|four|five|latter|former|name|term|word|"
    r"technique|theory|concept|idea|practice|condition|event|effect|plant|animal|genus)"
    r")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of one document (``source`` indexes the documents given)."""

    text: str
    source: int
    position: int


@dataclass(frozen=True, slots=True)
class Unit:
    """What may be quoted: one sentence and the sentences it depends on, in order."""

    sentences: tuple[Sentence, ...]

    @property
    def last(self) -> Sentence:
        return self.sentences[-1]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def word_count(self) -> int:
        return sum(len(words(s.text)) for s in self.sentences)


_CLAUSE_PRONOUN = re.compile(
    r"^(?:when|after|although|while|because|since|as|before|once|if|though|until|despite|"
    r"during|following|upon|in|by|with|at|on|for|from|under|unlike|like)\b[^,;]{0,60}?"
    r"\b(?:it|its|they|their|them|he|his|him|she|her|this|these|those)\b",
    re.IGNORECASE,
)


_PRONOUN_AFTER_OPENER = re.compile(
    r"^[^,;]{0,60},\s*(?:it|its|they|their|he|his|she|her|this|these)\b", re.IGNORECASE
)
"""A short opener, then a pronoun as the subject: "On 29 May 1953, he and Tenzing Norgay…"."""


def is_anaphoric(sentence: str) -> bool:
    """Whether the sentence's opening refers back to something said before it: it opens with
    an anaphor, or with a clause whose pronoun has nothing to refer to ("When they joined
    the war, …", "In his later years, …", "On 29 May 1953, he …")."""
    opening = sentence.lstrip("\"'“‘(")
    return bool(
        _ANAPHORS.match(opening)
        or _CLAUSE_PRONOUN.match(opening)
        or _PRONOUN_AFTER_OPENER.match(opening)
    )


def quotable(sentence: str) -> bool:
    """Long enough to say something, short enough to read; not a list fragment."""
    return len(words(sentence)) >= MIN_WORDS and len(sentence) <= MAX_CHARS


def units(documents: Sequence[Document]) -> list[Unit]:
    """Every quotable unit of ``documents``: each quotable sentence, with its antecedents when
    it opens with an anaphor (see the module docstring)."""
    out: list[Unit] = []
    for source, doc in enumerate(documents):
        split = [Sentence(text, source, i) for i, text in enumerate(sentences(doc.body))]
        for i, sentence in enumerate(split):
            if not quotable(sentence.text):
                continue
            start = i
            while start >= 0 and is_anaphoric(split[start].text):
                start -= 1
            if start < 0 or i - start + 1 > MAX_CHAIN:
                continue  # nothing in the document to lean on, or too far back
            out.append(Unit(tuple(split[start : i + 1])))
    return out
