"""The six working agents, run in order by the Orchestrator (:mod:`tk9.research.runner`).

Browser → Editor → Researcher (sections in parallel) → Writer → Publisher → Translator. Each
reports ``running`` → readable progress → ``completed`` / ``skipped`` through the
:class:`~tk9.research.emitter.Emitter`; a failure raises and the Orchestrator closes the run.
The Orchestrator's overall progress moves through fixed bands, one per agent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from tk9.errors import ResearchError
from tk9.events import AgentName, AgentStatus, AgentWork, LogLevel, RunStatus, SectionWords
from tk9.research.appendix import timeline_markdown
from tk9.research.browse import INITIAL_SOURCES, columns, gather, judge_candidates
from tk9.research.citations import ReferenceRegistry, check_citations
from tk9.research.coverage import (
    Coverage,
    describe_corpus,
    describe_report,
    describe_uncovered,
    measure,
    payload,
)
from tk9.research.documents import Document
from tk9.research.emitter import Emitter
from tk9.research.engine import Engine
from tk9.research.extractive import ExtractiveEngine
from tk9.research.publish import render_all, write_atomic
from tk9.research.relevance import (
    Judged,
    Relevance,
    describe_nothing,
    marginal,
)
from tk9.research.report import Outline, Report, SectionDraft, slugify
from tk9.research.retrieval import Retriever
from tk9.research.semantic import Embedder, dense, lexical
from tk9.research.subject import Subject, parse, required
from tk9.research.text import counted, terms, words
from tk9.research.translate import Translator, choose_translator, untranslated_warning
from tk9.research.validate import SOURCE_LANGUAGE

BANDS: dict[AgentName, tuple[int, int]] = {
    AgentName.BROWSER: (0, 15),
    AgentName.EDITOR: (15, 25),
    AgentName.RESEARCHER: (25, 60),
    AgentName.WRITER: (60, 70),
    AgentName.PUBLISHER: (70, 85),
    AgentName.TRANSLATOR: (85, 100),
}
CONTEXT_SOURCES = 10
"""The most *context* sources (:attr:`.relevance.Judged.context`) the extractive engine adds,
quoting only their sentences that name the subject."""
FULL_REPORT = 8
"""Fewer documents on the subject than this: a shorter report, and it says why."""
SECTION_SOURCES = 6
CANDIDATES = 5
"""Search this many times more documents than needed, then keep those on the subject."""


@dataclass(slots=True)
class Pipeline:
    """One run's working agents and what they hand each other."""

    emit: Emitter
    subject: str
    language: str
    output_dir: Path
    engine: Engine
    retriever: Retriever
    max_sections: int
    llm_translator: Translator | None = None
    relevance: Relevance | None = None
    """Set by the Browser: which documents are about the subject (see :mod:`.relevance`)."""
    initial: list[Document] = field(default_factory=list)
    understood: Subject | None = None
    """The subject's key phrases and framing (:mod:`.subject`), set by the Browser."""
    embedder: Embedder = field(default_factory=lexical)
    judged: list[Judged] = field(default_factory=list)
    coverage: Coverage | None = None
    context: list[Document] = field(default_factory=list)
    """Set by the Browser: sources that name the subject without being about it."""
    phrase_similarity: dict[str, list[float]] = field(default_factory=dict)
    """Document URI → cosine of each key phrase with it (dense embedder only)."""

    async def run(self) -> None:
        initial = await self.browser()
        outline = await self.editor(initial)
        drafts = await self.researcher(outline)
        report = await self.writer(outline, initial, drafts)
        stem = slugify(report.title)
        await self.publisher(report, stem)
        await self.translator(report, stem)

    async def _step(self, agent: AgentName, fraction: float, message: str) -> None:
        """Report an agent's progress and move the overall progress inside its band."""
        low, high = BANDS[agent]
        percent = int(max(0.0, min(1.0, fraction)) * 100)
        await self.emit.agent(agent, AgentStatus.RUNNING, percent, message)
        overall = low + int((high - low) * fraction)
        if overall > self.emit.progress:
            await self.emit.status(RunStatus.RUNNING, overall, f"{agent.value}: {message}")

    # --- Browser: initial research -------------------------------------------------------

    async def browser(self) -> list[Document]:
        agent = AgentName.BROWSER
        await self._step(agent, 0.0, "Opening the corpus")
        for report in self.retriever.reports:
            changed = report.added + report.updated + report.removed
            await self.emit.note(
                f"Corpus {report.source}: {changed} file(s) indexed, {report.unchanged} "
                f"unchanged, {report.removed} removed",
                agent,
            )
            for problem in report.unreadable:
                await self.emit.error("unreadable_document", problem, agent)
        total = await self.retriever.document_count()
        await self._step(agent, 0.3, f"Searching {total} documents for “{self.subject}”")
        understood = parse(self.subject)
        relevance = await self.retriever.relevance(understood.core)
        self.relevance = relevance
        if relevance.unknown and self.retriever.web is None:
            # a word no document uses: whatever else matches is about something else
            raise ResearchError(describe_nothing(self.subject, relevance.unknown))
        candidates, understood, named = await gather(self.retriever, understood, relevance)
        self.understood = understood
        await self._step(
            agent,
            0.6,
            f"Judging {counted(len(candidates), 'candidate')} against the key phrases "
            + ", ".join(f"“{p.text}”" for p in understood.phrases),
        )
        self.embedder = self._embedder()
        judged, phrase_sims = await asyncio.to_thread(
            judge_candidates, self.embedder, understood, candidates, named
        )
        self.judged = judged
        if phrase_sims is not None:
            for i, doc in enumerate(candidates):
                self.phrase_similarity[doc.uri] = [float(v) for v in phrase_sims[:, i]]
        on_subject = [j for j in judged if j.on_subject]
        found = [j.document for j in on_subject[:INITIAL_SOURCES]]
        coverage = measure(
            understood,
            found,
            None if phrase_sims is None else columns(phrase_sims, candidates, found),
            self.embedder.covers,
        )
        self.coverage = coverage
        if not found or coverage.fails:
            if not found:  # what the corpus does hold, to name only the part it lacks
                coverage = measure(
                    understood,
                    candidates,
                    None if phrase_sims is None else [list(map(float, r)) for r in phrase_sims],
                    self.embedder.covers,
                )
            related = [j.document.title for j in judged[:5]]
            corpus = describe_corpus(total, self.retriever.index is not None and not self._folder)
            raise ResearchError(describe_uncovered(understood, coverage, corpus, related))
        if coverage.partial:
            await self.emit.warn(
                f"The corpus covers only part of “{self.subject}”: " + coverage.summary(), agent
            )
        self.initial = found
        known = {d.uri for d in found}
        self.context = [j.document for j in judged if j.context and j.document.uri not in known][
            :CONTEXT_SOURCES
        ]
        titles = ", ".join(d.title for d in found[:4])
        off = len(candidates) - len(on_subject)
        matches = "match" if off == 1 else "matches"
        dropped = f" ({off} off-topic {matches} set aside)" if off else ""
        await self.emit.agent(
            agent,
            AgentStatus.COMPLETED,
            100,
            f"Read {counted(len(found), 'source')}: {titles}{dropped}",
        )
        return found

    @property
    def _folder(self) -> bool:
        return any(source.startswith("dir:") for source in self.retriever.sources)

    def _embedder(self) -> Embedder:
        """The sentence-embedding model when the retriever has one, else TF-IDF vectors."""
        model = self.retriever.embedder
        return lexical() if model is None else dense(model.embed)

    # --- Editor: title and outline -------------------------------------------------------

    async def editor(self, initial: list[Document]) -> Outline:
        agent = AgentName.EDITOR
        await self._step(agent, 0.0, "Planning the title and outline")
        evidence = initial
        if isinstance(self.engine, ExtractiveEngine) and self.understood is not None:
            # the extractive engine quotes only what names the subject from context sources
            self.engine.prepare(self.understood, self.embedder, self.context)
            evidence = [*initial, *self.context]
        outline = await self.engine.outline(self.subject, evidence, self.max_sections)
        sections = tuple(h.strip() for h in outline.sections if h.strip())[: self.max_sections]
        if not sections:
            raise ResearchError("the Editor produced no section")
        outline = Outline(title=outline.title.strip() or self.subject, sections=sections)
        await self.emit.agent(
            agent,
            AgentStatus.COMPLETED,
            100,
            f"“{outline.title}”: {counted(len(sections), 'section')} — " + "; ".join(sections),
            AgentWork(outline=[h[:300] for h in sections[:50]]),
        )
        return outline

    # --- Researcher: every section in parallel -------------------------------------------

    async def researcher(self, outline: Outline) -> list[SectionDraft]:
        agent = AgentName.RESEARCHER
        total = len(outline.sections)
        await self._step(agent, 0.0, f"Researching {counted(total, 'section')} in parallel")
        done = 0
        lock = asyncio.Lock()

        async def one(heading: str) -> SectionDraft:
            nonlocal done
            evidence = await self._section_sources(heading)
            draft = await self.engine.section(self.subject, heading, evidence)
            check = check_citations(draft.body, len(draft.evidence))
            async with lock:
                if check.invalid:
                    await self.emit.note(
                        f"Removed {len(check.invalid)} citation(s) in “{heading}” that "
                        f"pointed at no source: {sorted(set(check.invalid))}",
                        agent,
                        LogLevel.WARNING,
                    )
                done += 1
                await self._step(
                    agent,
                    done / total,
                    f"Section “{heading}” done ({len(check.cited)} sources cited), {done}/{total}",
                )
            return SectionDraft(heading, check.text, draft.evidence)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(h)) for h in outline.sections]
        drafts = [t.result() for t in tasks]
        cited = len({d.uri for draft in drafts for d in draft.evidence})
        await self.emit.agent(
            agent,
            AgentStatus.COMPLETED,
            100,
            f"{counted(total, 'section')} researched from {counted(cited, 'source')}",
        )
        return drafts

    async def _section_sources(self, heading: str) -> list[Document]:
        """The section's sources: matches for subject + heading that are on the subject,
        else the Browser's sources (never documents that merely share a word)."""
        query = f"{self.subject} {heading}"
        candidates = await self.retriever.search(query, SECTION_SOURCES * CANDIDATES)
        if self.relevance is None:
            return candidates[:SECTION_SOURCES]
        on_subject = self.relevance.rank(candidates)
        heading_docs = [d for d in on_subject if _mentions(d, heading)]
        ranked = heading_docs + [d for d in on_subject if d not in heading_docs]
        return ranked[:SECTION_SOURCES] or self.initial[:SECTION_SOURCES]

    # --- Writer: introduction, conclusion, contents, references --------------------------

    async def writer(
        self, outline: Outline, initial: list[Document], drafts: list[SectionDraft]
    ) -> Report:
        agent = AgentName.WRITER
        await self._step(agent, 0.0, "Writing the introduction")
        intro = await self.engine.introduction(self.subject, initial)
        intro_check = check_citations(intro.body, len(intro.evidence))
        registry = ReferenceRegistry()
        introduction = registry.renumber(intro_check.text, intro.evidence)
        renumbered = [(d.heading, registry.renumber(d.body, d.evidence)) for d in drafts]
        sections = await self._without_repeats(introduction, renumbered) or renumbered
        await self._step(agent, 0.5, "Writing the conclusion")
        conclusion = await self.engine.conclusion(self.subject, sections, len(registry.documents))
        plan = self.engine.plan if isinstance(self.engine, ExtractiveEngine) else None
        if plan is not None:  # key points quote the plan's documents: number them globally
            conclusion = registry.renumber(conclusion, plan.documents)
        else:
            conclusion = check_citations(conclusion, len(registry.documents)).text
        if not registry.documents:
            raise ResearchError(
                f"the sources hold no passage about “{self.subject}” to quote: add documents "
                "with TK9_CORPUS_DIR or configure a search provider"
            )
        report = Report(
            title=outline.title,
            subject=self.subject,
            note=self.engine.note,
            introduction=introduction,
            sections=sections,
            conclusion=conclusion,
            references=list(registry.documents),
        )
        report.about = await self._coverage(report)
        await self.emit.agent(
            agent,
            AgentStatus.COMPLETED,
            100,
            f"Introduction, {counted(len(sections), 'section')}, conclusion, contents and "
            f"{counted(len(report.references), 'reference')}",
            AgentWork(
                sections=[
                    SectionWords(heading=h[:300], words=len(words(b)))
                    for h, b in [
                        ("Introduction", introduction),
                        *sections,
                        ("Conclusion", conclusion),
                    ]
                ][:50]
            ),
        )
        return report

    async def _coverage(self, report: Report) -> str:
        """Measure how the cited sources cover the subject, emit it, and say it in the report."""
        understood = self.understood or parse(self.subject)
        cited = report.references
        sims = None
        if self.phrase_similarity:
            sims = [
                [
                    self.phrase_similarity.get(d.uri, [0.0] * len(understood.phrases))[p]
                    for d in cited
                ]
                for p in range(len(understood.phrases))
            ]
        coverage = measure(understood, cited, sims, self.embedder.covers)
        uris = {d.uri for d in cited}
        await self.emit.coverage(payload(coverage, self.judged, uris))
        weak = [
            j.document.title for j in marginal(self.judged, understood) if j.document.uri in uris
        ]
        if weak:
            await self.emit.warn(
                f"{counted(len(weak), 'cited source')} judged on meaning alone (never naming "
                + " or ".join(f"“{k.text}”" for k in required(understood))
                + ", well below the closest match), perhaps off the subject: "
                + ", ".join(weak),
                AgentName.WRITER,
            )
        prose = sum(
            len(words(t))
            for t in [report.introduction, report.conclusion, *(b for _, b in report.sections)]
        )
        on_subject = sum(j.on_subject for j in self.judged) or len(self.initial)
        return describe_report(
            coverage, understood, len(cited), on_subject, len(self.context), prose, FULL_REPORT
        )

    async def _without_repeats(
        self, introduction: str, sections: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Drop lines quoted earlier in the report, and sections left empty by that (noted)."""
        seen = set(introduction.splitlines())
        kept = []
        for heading, text in sections:
            lines = [line for line in text.splitlines() if not line.strip() or line not in seen]
            seen.update(line for line in lines if line.strip())
            body = "\n".join(lines).strip()
            if body:
                kept.append((heading, body))
            else:
                await self.emit.note(
                    f"Dropped the section “{heading}”: everything its sources say is already "
                    "quoted above",
                    AgentName.WRITER,
                )
        return kept

    # --- Publisher and Translator ---------------------------------------------------------

    async def _publish(
        self, agent: AgentName, markdown: str, title: str, stem: str, language: str
    ) -> None:
        # the appendix: the agents' timeline so far, from the run's own projection
        markdown = markdown.rstrip("\n") + "\n\n" + timeline_markdown(self.emit.state, agent)
        rendered = await asyncio.to_thread(render_all, markdown, title, language)
        for count, (kind, data) in enumerate(rendered.items(), start=1):
            written = await asyncio.to_thread(
                write_atomic, self.output_dir / f"{stem}.{kind}", data
            )
            await self.emit.file(written, language)
            await self._step(agent, 0.4 + 0.2 * count, f"Wrote {written.path.name}")

    async def publisher(self, report: Report, stem: str) -> None:
        agent = AgentName.PUBLISHER
        await self._step(agent, 0.0, "Rendering Markdown, PDF and DOCX")
        await self._publish(agent, report.to_markdown(), report.title, stem, SOURCE_LANGUAGE)
        await self.emit.agent(agent, AgentStatus.COMPLETED, 100, "Published Markdown, PDF, DOCX")

    async def translator(self, report: Report, stem: str) -> None:
        agent = AgentName.TRANSLATOR
        if self.language == SOURCE_LANGUAGE:
            await self.emit.agent(
                agent,
                AgentStatus.SKIPPED,
                0,
                f"The target language is the source language ({SOURCE_LANGUAGE})",
            )
            return
        translator, chosen = await choose_translator(
            SOURCE_LANGUAGE, self.language, self.llm_translator
        )
        if translator is None:
            # Not a failure (the English report is complete) but not plain success either.
            reason = untranslated_warning(self.language, ahead=False)
            await self.emit.agent(agent, AgentStatus.SKIPPED, 0, reason)
            await self.emit.warn(reason, agent)
            return
        how = f"{chosen.name} with {chosen.how}"
        await self._step(agent, 0.0, f"Translating into {how}")
        body = await translator.translate(report.body_markdown(), SOURCE_LANGUAGE, self.language)
        if not body.strip():
            raise ResearchError(f"the translation into {self.language} came back empty")
        markdown = body.rstrip("\n") + "\n\n" + report.references_markdown()
        first = markdown.lstrip().splitlines()[0]
        title = first.lstrip("# ").strip() or report.title
        await self._step(agent, 0.4, "Rendering the translated Markdown, PDF and DOCX")
        await self._publish(agent, markdown, title, f"{stem}.{self.language}", self.language)
        work = AgentWork(engine=chosen.how[:200], language=self.language)
        await self.emit.agent(agent, AgentStatus.COMPLETED, 100, f"Translated into {how}", work)


def _mentions(doc: Document, heading: str) -> bool:
    """Whether ``doc`` is about ``heading``: the heading's title, or all its words in the text."""
    wanted = set(terms(heading))
    return bool(wanted) and (
        set(terms(doc.title)) == wanted or wanted <= set(terms(f"{doc.title} {doc.body}"))
    )
