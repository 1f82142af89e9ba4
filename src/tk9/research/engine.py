"""The engine interface: what differs between the offline extractive engine and an LLM.

Agents, events and the publisher are the same for both engines; only these four writing
steps change. Every method gets numbered evidence and returns text whose ``[n]`` markers refer
to it (see :mod:`tk9.research.citations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tk9.research.documents import Document
from tk9.research.report import Outline, SectionDraft


class Engine(Protocol):
    name: str
    note: str
    """One sentence printed under the report title saying how it was written."""

    async def outline(
        self, subject: str, evidence: Sequence[Document], max_sections: int
    ) -> Outline:
        """Title and up to ``max_sections`` section headings."""
        ...

    async def section(
        self, subject: str, heading: str, evidence: Sequence[Document]
    ) -> SectionDraft:
        """One section's text about ``heading``, citing ``evidence``."""
        ...

    async def introduction(self, subject: str, evidence: Sequence[Document]) -> SectionDraft:
        """The introduction, citing the initial research."""
        ...

    async def conclusion(
        self, subject: str, sections: Sequence[tuple[str, str]], reference_count: int
    ) -> str:
        """The conclusion, from the finished sections (markers already global)."""
        ...
