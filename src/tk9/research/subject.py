"""What a subject asks about: its key phrases, and the framing that shapes the report.

"Causes of coral reef bleaching" names one concept the corpus must hold — coral reef bleaching
— and asks for it to be told cause-first. Matching its words one by one is what made household
*Bleach* a source and let "causes" count as much as "coral". So a subject is read as:

* **framing** — "how", "why", "causes of", "history of", "invention of", "effects of", "in
  medicine"… : it steers the outline (:attr:`Subject.framing`) and is never matched;
* **key phrases** — the runs of content words between the framing and the joining words
  ("of", "in", "and"…). A run is kept whole when the corpus uses it as a unit (a title, or the
  same words in a row in a document, see :func:`refine`); otherwise it is split into the
  longest pieces the corpus does use ("coral reef" + "bleaching").

Everything here is pure: the corpus is consulted only through the documents passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tk9.research.documents import Document
from tk9.research.text import STOPWORDS, stem, words

_LEADING: tuple[tuple[str, str], ...] = (
    (r"(?:what|which) (?:are|were) the (?:main )?causes of", "causes"),
    (
        r"(?:the )?(?:main )?(?:causes?|reasons?|origins?) (?:and effects? )?(?:of|for|behind)",
        "causes",
    ),
    (r"why (?:is|are|was|were|do|does|did)", "causes"),
    (
        r"(?:the )?(?:effects?|impacts?|consequences?|influence|legacy|results?|outcomes?) of",
        "effects",
    ),
    (r"(?:the )?(?:history|story|evolution|development|rise) of", "history"),
    (r"(?:the )?(?:invention|discovery|creation|inventors?|discoverers?) of", "invention"),
    (r"how (?:was|were) (?:the )?", "invention"),
    (r"how (?:does|do|did|is|are|can|could) (?:the )?", "how"),
    (r"how to", "how"),
    (r"(?:what|who) (?:is|are|was|were)", "overview"),
    (r"(?:an )?(?:introduction|overview|guide) (?:to|of)", "overview"),
    (r"(?:the )?(?:role|importance|uses?|applications?|benefits?) of", "uses"),
)
_TRAILING: tuple[tuple[str, str], ...] = (
    (r"(?:work|works|worked|function|functions|happen|happens|happened)", "how"),
    (r"(?:invented|discovered|developed|made|built|created)", "invention"),
    (r"(?:today|nowadays|in practice|in everyday life|in the modern world)", "effects"),
)
FIELDS = frozenset(
    [
        "medicine",
        "healthcare",
        "health",
        "education",
        "industry",
        "agriculture",
        "business",
        "finance",
        "science",
        "engineering",
        "art",
        "arts",
        "music",
        "literature",
        "society",
        "culture",
        "sport",
        "sports",
        "politics",
        "law",
        "warfare",
        "transport",
        "transportation",
        "manufacturing",
        "research",
        "practice",
    ]
)
"""Fields a subject can be *applied in* ("machine learning in medicine"): the field steers
the report's emphasis but is not a concept a source must match."""
JOINERS = STOPWORDS | {"vs", "versus", "de", "la", "le", "von", "van"}
_ORDINALS = re.compile(r"^\d+(?:st|nd|rd|th|s)?$")


@dataclass(frozen=True, slots=True)
class KeyPhrase:
    """A concept of the subject: its words as written and their stems (for matching)."""

    text: str
    roots: tuple[str, ...]
    weight: float = 1.0
    segment: int = 0
    """Which run of the subject's words it comes from (a split run gives several phrases)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """A subject as the pipeline understands it."""

    text: str
    core: str
    """The subject without its framing: what the sources must be about."""
    phrases: tuple[KeyPhrase, ...]
    framing: str = ""
    """``causes``, ``effects``, ``history``, ``invention``, ``how``, ``overview``, ``uses``
    or ""."""
    field: str = ""
    """A field the subject is applied in ("medicine"), or ""."""
    refinements: tuple[str, ...] = ()
    """Numbers (years) in the subject: they narrow it but are not concepts to match."""
    coordinate: bool = False
    """Its runs of words are joined by "and" ("Diabetes and insulin"): each is a main topic."""


def phrase(text: str, weight: float = 1.0, segment: int = 0) -> KeyPhrase:
    return KeyPhrase(text, tuple(_roots(text)), weight, segment)


def parse(subject: str) -> Subject:
    """Split ``subject`` into framing and key phrases (before the corpus is consulted)."""
    text = " ".join(subject.split())
    rest = text.lower().rstrip("?.! ")
    framing = ""
    for pattern, kind in _LEADING:
        match = re.match(pattern + r"\s+", rest)
        if match:
            framing, rest = kind, rest[match.end() :]
            break
    for pattern, kind in _TRAILING:
        match = re.search(r"\s+" + pattern + r"$", rest)
        if match:
            framing, rest = framing or kind, rest[: match.start()]
            break
    field = ""
    match = re.search(r"\s+(?:in|for) (?:the )?(\w+)$", rest)
    if match and match.group(1) in FIELDS:
        field, rest = match.group(1), rest[: match.start()]
    segments: list[list[str]] = [[]]
    refinements: list[str] = []
    coordinate = False
    numerals = {w.lower() for w in re.findall(r"(?<=\w )([IVX]{1,4})\b", text)}
    for token in re.findall(r"[^\W_]+(?:['’][^\W_]+)?|[,;:()/&-]", rest):
        attached = bool(segments[-1])  # follows a content word: "Apollo 11", "World War I"
        if (token.isdigit() and attached and len(token) <= 3) or (token in numerals and attached):
            segments[-1].append(token)
        elif token.isdigit() or _ORDINALS.match(token):
            refinements.append(token)
            segments.append([])
        elif token in JOINERS or len(token) < 2 or not token[0].isalnum():
            coordinate = coordinate or (token in ("and", "&") and attached)
            segments.append([])
        else:
            segments[-1].append(token.removesuffix("'s").removesuffix("’s"))
    original = _original_case(text)
    runs = [seg for seg in segments if seg]
    phrases = [
        phrase(" ".join(original.get(w, w) for w in seg), 1.0, i) for i, seg in enumerate(runs)
    ]
    core = " ".join(p.text for p in phrases) or text
    return Subject(
        text,
        core,
        tuple(_unique(phrases)),
        framing,
        field,
        tuple(refinements),
        coordinate and len(runs) > 1,
    )


def refine(subject: Subject, documents: Sequence[Document]) -> Subject:
    """Keep each phrase whole when the corpus uses it as a unit, else split it into the
    longest pieces it does use; a lone word is always a unit."""
    titles = [tuple(_roots(d.title)) for d in documents]
    bodies = [tuple(_roots(d.body)) for d in documents]

    def is_unit(roots: tuple[str, ...]) -> bool:
        if len(roots) == 1:
            return True
        if any(_contains(t, roots) for t in titles):
            return True
        return sum(_contains(b, roots) for b in bodies) >= 2

    merged: list[KeyPhrase] = []
    for key in subject.phrases:
        last = merged[-1] if merged else None
        if last is not None and any(_contains(t, last.roots + key.roots) for t in titles):
            # "theory" + "relativity": the corpus has "Theory of relativity" as one title
            span = re.search(
                re.escape(last.text) + r"\W+(?:\w+\W+){0,2}?" + re.escape(key.text),
                subject.text,
                re.IGNORECASE,
            )
            text = span.group(0) if span else f"{last.text} {key.text}"
            merged[-1] = KeyPhrase(text, last.roots + key.roots, last.weight, last.segment)
        else:
            merged.append(key)
    out: list[KeyPhrase] = []
    for key in merged:
        texts = key.text.split()
        if len(texts) != len(key.roots):
            out.append(key)
            continue
        start = 0
        while start < len(texts):
            end = len(texts)
            while end - start > 1 and not is_unit(key.roots[start:end]):
                end -= 1
            out.append(phrase(" ".join(texts[start:end]), key.weight, key.segment))
            start = end
    return replace(subject, phrases=tuple(_unique(out)))


def weighted(subject: Subject, weights: dict[str, float]) -> Subject:
    """Weigh each phrase by its rarest word (``weights``: stem → IDF): a phrase is as
    specific as its most telling word ("tidal" says more than "energy")."""
    phrases = tuple(
        replace(p, weight=max((weights.get(r, 1.0) for r in p.roots), default=1.0))
        for p in subject.phrases
    )
    return replace(subject, phrases=phrases)


def required(subject: Subject) -> list[KeyPhrase]:
    """The phrases a source must speak to (one of them): in the most telling run of words
    (its rarest word), the first piece — the modifier that makes it specific: "Coral reef" in
    "coral reef bleaching" (household *Bleach* is about bleaching too), "Antibiotic" in
    "antibiotic resistance", "ancient Rome" in "the economy of ancient Rome". When the runs
    are joined by "and" ("Diabetes and insulin"), the first piece of each."""
    if not subject.phrases:
        return []
    best: dict[int, float] = {}
    for key in subject.phrases:
        best[key.segment] = max(best.get(key.segment, 0.0), key.weight)
    chosen = sorted(best) if subject.coordinate else [max(best, key=lambda s: (best[s], -s))]
    return [next(p for p in subject.phrases if p.segment == seg) for seg in chosen]


def main_titles(subject: Subject) -> set[tuple[str, ...]]:
    """Titles (as roots) of the subject's own articles: the subject without its framing,
    and each run of words of a subject joined by "and"."""
    core = tuple(r for p in subject.phrases for r in p.roots)
    titles = {core} if core else set()
    if subject.coordinate:
        runs: dict[int, tuple[str, ...]] = {}
        for key in subject.phrases:
            runs[key.segment] = runs.get(key.segment, ()) + key.roots
        titles.update(runs.values())
    return titles


def presence(key: KeyPhrase, document: Document) -> float:
    """How a document holds a phrase: 1 as (part of) its title, 0.5 as a unit in its text,
    0.2 when its text has every word but never together, else 0."""
    if not key.roots:
        return 0.0
    if _contains(tuple(_roots(document.title)), key.roots):
        return 1.0
    body = tuple(_roots(document.body))
    if _contains(body, key.roots):
        return 0.5
    if len(key.roots) > 1 and set(key.roots) <= set(body):
        return 0.2
    return 0.0


ROMAN = frozenset({"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"})


def _roots(text: str) -> list[str]:
    return [stem(w) for w in words(text) if w in ROMAN or (w not in JOINERS and len(w) > 1)]


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    if not n or n > len(haystack):
        return False
    first = needle[0]
    return any(
        haystack[i] == first and haystack[i : i + n] == needle for i in range(len(haystack) - n + 1)
    )


def _original_case(text: str) -> dict[str, str]:
    """Lower-case word → its spelling in the subject (to keep "Rome", "Japan" readable)."""
    out: dict[str, str] = {}
    for word in re.findall(r"[^\W_]+(?:['’][^\W_]+)?", text):
        clean = word.removesuffix("'s").removesuffix("’s")
        out.setdefault(clean.lower(), clean)
    return out


def _unique(phrases: Sequence[KeyPhrase]) -> list[KeyPhrase]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for key in phrases:
        if key.roots and key.roots not in seen:
            seen.add(key.roots)
            out.append(key)
    return out
