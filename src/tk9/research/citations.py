"""Citation markers ``[n]``: checking them against numbered evidence and renumbering them.

Every engine writes section text whose markers refer to the evidence it was given, numbered
from 1. :func:`check_citations` removes markers that point at no evidence (a model inventing
``[7]`` when it saw five sources) and reports them; :class:`ReferenceRegistry` turns the
per-section numbers into the report's global reference list, in order of first citation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tk9.research.documents import Document

CITATION = re.compile(r"\[(\d{1,4})\]")


@dataclass(frozen=True, slots=True)
class CitationCheck:
    text: str
    """The text with every invalid marker removed."""
    cited: tuple[int, ...]
    """Valid evidence numbers, in order of first citation."""
    invalid: tuple[int, ...]
    """Markers that referred to no evidence, as written."""


def check_citations(text: str, evidence_count: int) -> CitationCheck:
    """Keep the markers ``[1]..[evidence_count]`` and drop every other one."""
    cited: list[int] = []
    invalid: list[int] = []

    def keep(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= evidence_count:
            if number not in cited:
                cited.append(number)
            return match.group(0)
        invalid.append(number)
        return ""

    cleaned = CITATION.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return CitationCheck(cleaned, tuple(cited), tuple(invalid))


@dataclass(slots=True)
class ReferenceRegistry:
    """The report's reference list; a document cited twice gets one number."""

    documents: list[Document] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)

    def number(self, document: Document) -> int:
        if document.uri not in self._index:
            self.documents.append(document)
            self._index[document.uri] = len(self.documents)
        return self._index[document.uri]

    def renumber(self, text: str, evidence: Sequence[Document]) -> str:
        """Rewrite local markers (into ``evidence``) as global reference numbers."""

        def swap(match: re.Match[str]) -> str:
            local = int(match.group(1))
            if 1 <= local <= len(evidence):
                return f"[{self.number(evidence[local - 1])}]"
            return ""

        return CITATION.sub(swap, text)
