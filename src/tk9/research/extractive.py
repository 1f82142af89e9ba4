"""The offline engine: every sentence of the report is quoted from a cited source.

The pipeline hands this engine only documents judged to be about the subject (see
:mod:`tk9.research.relevance`), with the subject's key phrases and an embedder
(:meth:`ExtractiveEngine.prepare`). The whole report is planned at the outline step
(:func:`tk9.research.compose.compose`): the introduction from the subject's own article,
sections from clusters of passages, named and ordered for reading, and key points not quoted
elsewhere for the conclusion — so no sentence is quoted twice and every section stays on one
subtopic. An engine object serves one run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tk9.research.compose import Plan, compose, render
from tk9.research.documents import Document
from tk9.research.report import Outline, SectionDraft
from tk9.research.semantic import Embedder, lexical
from tk9.research.subject import Subject, parse

EMPTY = "_The sources hold no passage about this._"


class ExtractiveEngine:
    """Selects and cites source sentences; needs no network and no language model."""

    name = "extractive"
    note = (
        "This report is extractive: tk9 selected every sentence from the cited sources "
        "(offline, no language model), so it quotes rather than paraphrases."
    )

    def __init__(self) -> None:
        self.subject: Subject | None = None
        self.embedder: Embedder = lexical()
        self.plan: Plan | None = None
        self.context: frozenset[str] = frozenset()

    def prepare(
        self, subject: Subject, embedder: Embedder, context: Sequence[Document] = ()
    ) -> None:
        """The subject as the Browser understood it, the vectors to judge meaning by, and the
        *context* sources among the evidence (only their sentences naming the subject count)."""
        self.subject = subject
        self.embedder = embedder
        self.context = frozenset(d.uri for d in context)

    async def outline(
        self, subject: str, evidence: Sequence[Document], max_sections: int
    ) -> Outline:
        understood = self.subject or parse(subject)
        plan = await asyncio.to_thread(
            compose, understood, list(evidence), self.embedder, max_sections, self.context
        )
        self.plan = plan
        title = subject[:1].upper() + subject[1:]
        headings = tuple(h for h, _ in plan.sections) or (title,)
        return Outline(title=title, sections=headings)

    async def section(
        self, subject: str, heading: str, evidence: Sequence[Document]
    ) -> SectionDraft:
        plan = self.plan
        if plan is None:
            await self.outline(subject, evidence, 1)
            plan = self.plan
        assert plan is not None
        for name, group in plan.sections:
            if name == heading:
                return SectionDraft(heading, render(group), tuple(plan.documents))
        return SectionDraft(heading, EMPTY, tuple(plan.documents))

    async def introduction(self, subject: str, evidence: Sequence[Document]) -> SectionDraft:
        plan = self.plan
        if plan is None or not plan.introduction:
            return SectionDraft("", EMPTY, tuple(evidence))
        return SectionDraft("", render(plan.introduction), tuple(plan.documents))

    def key_points(self) -> SectionDraft:
        """The conclusion's material: central sentences the sections did not quote."""
        plan = self.plan
        if plan is None or not plan.key_points:
            return SectionDraft("", "", ())
        lines = [f"- {render([unit])}" for unit in plan.key_points]
        return SectionDraft("", "\n".join(lines), tuple(plan.documents))

    async def conclusion(
        self, subject: str, sections: Sequence[tuple[str, str]], reference_count: int
    ) -> str:
        """Key points not quoted above (see :meth:`key_points`; the pipeline renumbers them),
        so the conclusion never repeats a section."""
        points = self.key_points().body
        if not points:
            return (
                f"_Every passage the sources hold on {subject} is quoted in the sections "
                "above; the corpus offers no further key point._"
            )
        return "\n".join([f"Key points on {subject} not quoted above:", "", points])
