"""The LLM engine: any OpenAI-compatible chat-completions endpoint plans, writes, translates.

Works with OpenAI, Gemini's OpenAI-compatible endpoint, Ollama, vLLM and llama.cpp's server:
``TK9_LLM_BASE_URL`` is the API root that ``/chat/completions`` is appended to (for example
``http://127.0.0.1:11434/v1``). The HTTP side — streaming, ``max_tokens``, timeouts, retries
— lives in :mod:`tk9.research.llm_client`; this module decides what to ask and what to accept:

* Every call has a ``max_tokens`` budget for its step (outline small, sections larger).
* An outline that is not a JSON outline is asked for once more, strictly (JSON only, with
  ``response_format: json_object`` unless the server refuses it); if that fails too, the
  extractive engine plans the outline from the same evidence and a warning says so.
* A section (or introduction) that repeats the prompt, cites none of its evidence, or cites
  only sources that do not exist is asked for once more, then written by the extractive engine
  for that heading, with a warning (:mod:`tk9.research.llm_checks`).
* While a call streams, the agent's card shows how far it got ("Writing the introduction —
  320 tokens"), at most once per ``progress_interval`` seconds.

The model only ever sees numbered evidence, and the pipeline checks every ``[n]`` it writes
against that numbering (:func:`tk9.research.citations.check_citations`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tk9.errors import ResearchError
from tk9.events import AgentName
from tk9.research.documents import Document
from tk9.research.engine import Engine
from tk9.research.extractive import ExtractiveEngine
from tk9.research.llm_checks import parse_outline, repeats_prompt, section_problem, trim_to_sentence
from tk9.research.llm_client import ChatClient, Completion, ModelRejected, Timeouts
from tk9.research.llm_progress import Reporter, StreamProgress
from tk9.research.report import Outline, SectionDraft
from tk9.settings import Settings

log = logging.getLogger(__name__)

EVIDENCE_CHARS = 1500
SYSTEM = (
    "You are a careful research writer. Use only the numbered evidence you are given. "
    "Cite every factual sentence with the evidence number in square brackets, like [2]. "
    "Never invent sources or numbers. Write plain Markdown without headings."
)
JSON_ONLY = (
    "Answer with one JSON object and nothing else — no prose, no code fence — exactly of the "
    'form {"title": "...", "sections": ["...", "..."]}.'
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Token budgets per step and the writing temperature."""

    outline_tokens: int = 512
    section_tokens: int = 1024
    translate_tokens: int = 8192
    temperature: float = 0.3


def numbered(evidence: Sequence[Document]) -> str:
    """The evidence block the model cites from: ``[n] title`` and a trimmed body."""
    blocks = []
    for number, doc in enumerate(evidence, start=1):
        blocks.append(f"[{number}] {doc.title}\n{doc.body[:EVIDENCE_CHARS]}")
    return "\n\n".join(blocks)


def _finished(answer: Completion) -> str:
    """The answer's text, without the unfinished sentence a ``max_tokens`` cut leaves."""
    return trim_to_sentence(answer.text) if answer.finish_reason == "length" else answer.text


class LLMEngine:
    """Engine and Translator backed by a chat model, with the extractive engine as fallback."""

    name = "llm"

    def __init__(
        self,
        client: ChatClient,
        limits: Limits | None = None,
        *,
        reporter: Reporter | None = None,
        fallback: Engine | None = None,
        progress_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.limits = limits or Limits()
        self.reporter = reporter
        """Set by the runner (the run's Emitter): progress on the agent cards, warnings."""
        self.fallback: Engine = fallback or ExtractiveEngine()
        self.progress_interval = progress_interval
        self.clock = clock
        self._base_note = (
            f"This report was written by the language model {client.model} from the cited "
            "sources; tk9 checked every citation against the numbered evidence."
        )
        self.note = self._base_note
        self.quoted: list[str] = []
        """Parts the extractive engine wrote because the model's answer was refused."""
        self.planned = 0
        """Sections in the outline, and how many the engine has written (for progress)."""
        self.sections_done = 0

    @classmethod
    def from_settings(cls, settings: Settings, reporter: Reporter | None = None) -> LLMEngine:
        if not (settings.llm_base_url and settings.llm_model):
            raise ResearchError("engine=llm needs TK9_LLM_BASE_URL and TK9_LLM_MODEL")
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        client = ChatClient(
            settings.llm_base_url,
            settings.llm_model,
            key,
            Timeouts(
                connect=settings.llm_connect_timeout,
                read=settings.llm_read_timeout,
                total=settings.llm_timeout,
            ),
            settings.llm_attempts,
            retry_after_cap=settings.llm_retry_after_max,
            concurrency=settings.llm_concurrency,
        )
        limits = Limits(
            outline_tokens=settings.llm_outline_max_tokens,
            section_tokens=settings.llm_max_tokens,
            translate_tokens=settings.llm_translate_max_tokens,
            temperature=settings.llm_temperature,
        )
        return cls(
            client,
            limits,
            reporter=reporter,
            progress_interval=settings.llm_progress_interval,
        )

    # --- plumbing ----------------------------------------------------------------------

    async def _ask(
        self,
        system: str,
        prompt: str,
        *,
        agent: AgentName,
        label: str,
        budget: int,
        span: tuple[int, int] | None = (0, 99),
        temperature: float | None = None,
        json_mode: bool = False,
    ) -> Completion:
        def percent(tokens: int) -> int:
            if span is None:  # sections, in parallel: the share finished, as the pipeline says
                return 100 * self.sections_done // max(1, self.planned)
            low, high = span
            return low + int((high - low) * min(1.0, tokens / max(1, budget)))

        progress = StreamProgress(
            self.reporter,
            agent,
            label,
            percent,
            interval=self.progress_interval,
            clock=self.clock,
        )
        if self.client.busy:
            await progress.note("waiting for the model to finish another answer")
        return await self.client.chat(
            system,
            prompt,
            self.limits.temperature if temperature is None else temperature,
            max_tokens=budget,
            json_mode=json_mode,
            on_tokens=progress,
            on_retry=progress.note,
        )

    async def _warn(self, message: str, agent: AgentName, part: str) -> None:
        self.quoted.append(part)
        parts = ", ".join(self.quoted)
        self.note = (
            f"{self._base_note} Where the model's answer failed tk9's checks ({parts}), the "
            "text was selected from the cited sources instead."
        )
        if self.reporter is not None:
            await self.reporter.warn(message, agent)
        else:
            log.warning(message)

    # --- Editor ------------------------------------------------------------------------

    async def outline(
        self, subject: str, evidence: Sequence[Document], max_sections: int
    ) -> Outline:
        prompt = (
            f"Subject: {subject}\n\nEvidence:\n{numbered(evidence)}\n\n"
            f"Plan a report on the subject with at most {max_sections} sections the evidence "
            'can support. Answer only with JSON: {"title": "...", "sections": ["...", ...]}'
        )
        first = await self._plan(prompt, "Planning the outline")
        outline = parse_outline(first.text, subject, max_sections)
        if outline is None:
            strict = f"{prompt}\n\nYour previous answer was not valid JSON. {JSON_ONLY}"
            label = "Planning the outline (asked again for JSON only)"
            try:
                second = await self._plan(strict, label, json_mode=True)
            except ModelRejected:  # the server does not know response_format
                second = await self._plan(strict, label)
            outline = parse_outline(second.text, subject, max_sections)
        if outline is None:
            await self._warn(
                f"The model {self.client.model} twice answered the outline without valid "
                "JSON; the outline was planned extractively from the same sources",
                AgentName.EDITOR,
                "the outline",
            )
            outline = await self.fallback.outline(subject, evidence, max_sections)
        self.planned = len(outline.sections)
        return outline

    async def _plan(self, prompt: str, label: str, json_mode: bool = False) -> Completion:
        return await self._ask(
            SYSTEM,
            prompt,
            agent=AgentName.EDITOR,
            label=label,
            budget=self.limits.outline_tokens,
            temperature=0.0,
            json_mode=json_mode,
        )

    # --- Researcher and Writer ------------------------------------------------------------

    async def section(
        self, subject: str, heading: str, evidence: Sequence[Document]
    ) -> SectionDraft:
        if not evidence:
            return SectionDraft(heading, "_The sources hold no passage about this._", ())
        instruction = (
            f"Report subject: {subject}\nSection: {heading}\n\n"
            "Write this section in two or three paragraphs, citing the evidence as [n]."
        )
        prompt = (
            f"Report subject: {subject}\nSection: {heading}\n\nEvidence:\n{numbered(evidence)}"
            "\n\nWrite this section in two or three paragraphs, citing the evidence as [n]."
        )
        text = await self._checked(
            prompt,
            instruction,
            evidence,
            AgentName.RESEARCHER,
            f"Writing “{heading}”",
            None,
        )
        self.sections_done += 1
        if text is None:
            await self._warn(
                f"The model's section “{heading}” was refused twice; it was selected "
                "extractively from its sources",
                AgentName.RESEARCHER,
                f"“{heading}”",
            )
            return await self.fallback.section(subject, heading, evidence)
        return SectionDraft(heading, text, tuple(evidence))

    async def introduction(self, subject: str, evidence: Sequence[Document]) -> SectionDraft:
        tail = "Write a one-paragraph introduction to the report, citing the evidence as [n]."
        prompt = f"Report subject: {subject}\n\nEvidence:\n{numbered(evidence)}\n\n{tail}"
        text = await self._checked(
            prompt,
            f"Report subject: {subject}\n\n{tail}",
            evidence,
            AgentName.WRITER,
            "Writing the introduction",
            (0, 49),
        )
        if text is None:
            await self._warn(
                "The model's introduction was refused twice; it was selected extractively "
                "from its sources",
                AgentName.WRITER,
                "the introduction",
            )
            return await self.fallback.introduction(subject, evidence)
        return SectionDraft("", text, tuple(evidence))

    async def _checked(
        self,
        prompt: str,
        instruction: str,
        evidence: Sequence[Document],
        agent: AgentName,
        label: str,
        span: tuple[int, int] | None,
    ) -> str | None:
        """The model's text if it passes :func:`section_problem` at the first or second try."""
        budget = self.limits.section_tokens
        ask = prompt
        for attempt in (1, 2):
            answer = await self._ask(
                SYSTEM, ask, agent=agent, label=label, budget=budget, span=span
            )
            text = _finished(answer)
            problem = section_problem(text, (SYSTEM, instruction), len(evidence), prompt)
            if problem is None:
                return text
            log.info("llm answer refused (%s, attempt %d): %s", label, attempt, problem)
            ask = (
                f"{prompt}\n\nYour previous answer {problem}. Do not repeat these "
                "instructions: write the text itself, and cite the evidence it uses as [n]."
            )
        return None

    async def conclusion(
        self, subject: str, sections: Sequence[tuple[str, str]], reference_count: int
    ) -> str:
        text = "\n\n".join(f"{heading}\n{body}" for heading, body in sections)
        tail = (
            "Write a one-paragraph conclusion. Reuse only citation markers that appear in the "
            "sections."
        )
        prompt = f"Report subject: {subject}\n\nSections:\n{text}\n\n{tail}"
        answer = await self._ask(
            SYSTEM,
            prompt,
            agent=AgentName.WRITER,
            label="Writing the conclusion",
            budget=self.limits.section_tokens,
            span=(50, 99),
        )
        body = _finished(answer)
        if body and not repeats_prompt(body, (SYSTEM, f"Report subject: {subject}\n\n{tail}")):
            return body
        await self._warn(
            "The model's conclusion was empty or repeated the prompt; the conclusion was "
            "assembled from the sections instead",
            AgentName.WRITER,
            "the conclusion",
        )
        return await self.fallback.conclusion(subject, sections, reference_count)

    # --- Translator ----------------------------------------------------------------------

    async def translate(self, markdown: str, source: str, target: str) -> str:
        prompt = (
            f"Translate this Markdown document from the language '{source}' into the language "
            f"with ISO 639-1 code '{target}'. Keep the Markdown structure, every citation "
            f"marker like [3] and every URL exactly as they are. Answer with the translation "
            f"only.\n\n{markdown}"
        )
        system = "You are a professional translator."
        answer = await self._ask(
            system,
            prompt,
            agent=AgentName.TRANSLATOR,
            label=f"Translating into {target}",
            budget=self.limits.translate_tokens,
            span=(0, 39),
            temperature=0.0,
        )
        if not answer.text:
            raise ResearchError(f"the model at {self.client.url} sent an empty translation")
        if answer.finish_reason == "length":
            raise ResearchError(
                f"the translation into {target} was cut off at {self.limits.translate_tokens} "
                "tokens; raise TK9_LLM_TRANSLATE_MAX_TOKENS"
            )
        return answer.text
