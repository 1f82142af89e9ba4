"""The LLM engine: any OpenAI-compatible chat-completions endpoint plans, writes, translates.

Works with OpenAI, Gemini's OpenAI-compatible endpoint, Ollama, vLLM and llama.cpp's server:
``TK9_LLM_BASE_URL`` is the API root that ``/chat/completions`` is appended to (for example
``http://127.0.0.1:11434/v1``). Calls are made with httpx and retried by tenacity on
connection errors, timeouts, 429 and 5xx. The model only ever sees numbered evidence, and the
pipeline checks every ``[n]`` it writes against that numbering
(:func:`tk9.research.citations.check_citations`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from tk9.errors import ResearchError
from tk9.research.documents import Document
from tk9.research.report import Outline, SectionDraft
from tk9.settings import Settings

EVIDENCE_CHARS = 1500
SYSTEM = (
    "You are a careful research writer. Use only the numbered evidence you are given. "
    "Cite every factual sentence with the evidence number in square brackets, like [2]. "
    "Never invent sources or numbers. Write plain Markdown without headings."
)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class ChatClient:
    """A minimal chat-completions client (one request shape, retried)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float,
        attempts: int = 3,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._attempts = attempts

    async def complete(self, system: str, user: str, temperature: float = 0.2) -> str:
        body = {
            "model": self.model,
            "temperature": temperature,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self._attempts),
                    wait=wait_exponential(multiplier=0.2, max=10),
                    retry=retry_if_exception(_retryable),
                    reraise=True,
                ):
                    with attempt:
                        response = await client.post(self.url, json=body, headers=self._headers)
                        response.raise_for_status()
                        data: Any = response.json()
        except httpx.HTTPStatusError as exc:
            raise ResearchError(
                f"the language model answered HTTP {exc.response.status_code}"
            ) from exc
        except httpx.HTTPError as exc:
            raise ResearchError(f"the language model could not be reached: {exc}") from exc
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ResearchError("the language model sent a malformed reply") from exc
        if not isinstance(content, str) or not content.strip():
            raise ResearchError("the language model sent an empty reply")
        return content.strip()


def numbered(evidence: Sequence[Document]) -> str:
    """The evidence block the model cites from: ``[n] title`` and a trimmed body."""
    blocks = []
    for number, doc in enumerate(evidence, start=1):
        blocks.append(f"[{number}] {doc.title}\n{doc.body[:EVIDENCE_CHARS]}")
    return "\n\n".join(blocks)


def _json_object(text: str) -> dict[str, Any]:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0) if match else text)
    except json.JSONDecodeError as exc:
        raise ResearchError("the language model's outline was not valid JSON") from exc
    if not isinstance(data, dict):
        raise ResearchError("the language model's outline was not a JSON object")
    return data


class LLMEngine:
    """Engine and Translator backed by a chat model."""

    name = "llm"

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.note = (
            f"This report was written by the language model {client.model} from the cited "
            "sources; tk9 checked every citation against the numbered evidence."
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMEngine:
        if not (settings.llm_base_url and settings.llm_model):
            raise ResearchError("engine=llm needs TK9_LLM_BASE_URL and TK9_LLM_MODEL")
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(ChatClient(settings.llm_base_url, settings.llm_model, key, settings.llm_timeout))

    async def outline(
        self, subject: str, evidence: Sequence[Document], max_sections: int
    ) -> Outline:
        prompt = (
            f"Subject: {subject}\n\nEvidence:\n{numbered(evidence)}\n\n"
            f"Plan a report on the subject with at most {max_sections} sections the evidence "
            'can support. Answer only with JSON: {"title": "...", "sections": ["...", ...]}'
        )
        data = _json_object(await self.client.complete(SYSTEM, prompt, temperature=0.0))
        title = str(data.get("title") or subject)
        raw = data.get("sections")
        if not isinstance(raw, list) or not raw:
            raise ResearchError("the language model's outline has no sections")
        return Outline(title=title, sections=tuple(str(s) for s in raw[:max_sections]))

    async def section(
        self, subject: str, heading: str, evidence: Sequence[Document]
    ) -> SectionDraft:
        if not evidence:
            return SectionDraft(heading, "_The sources hold no passage about this._", ())
        prompt = (
            f"Report subject: {subject}\nSection: {heading}\n\nEvidence:\n{numbered(evidence)}"
            "\n\nWrite this section in two or three paragraphs, citing the evidence as [n]."
        )
        return SectionDraft(heading, await self.client.complete(SYSTEM, prompt), tuple(evidence))

    async def introduction(self, subject: str, evidence: Sequence[Document]) -> SectionDraft:
        prompt = (
            f"Report subject: {subject}\n\nEvidence:\n{numbered(evidence)}\n\n"
            "Write a one-paragraph introduction to the report, citing the evidence as [n]."
        )
        return SectionDraft("", await self.client.complete(SYSTEM, prompt), tuple(evidence))

    async def conclusion(
        self, subject: str, sections: Sequence[tuple[str, str]], reference_count: int
    ) -> str:
        text = "\n\n".join(f"{heading}\n{body}" for heading, body in sections)
        prompt = (
            f"Report subject: {subject}\n\nSections:\n{text}\n\nWrite a one-paragraph "
            "conclusion. Reuse only citation markers that appear in the sections."
        )
        return await self.client.complete(SYSTEM, prompt)

    async def translate(self, markdown: str, source: str, target: str) -> str:
        prompt = (
            f"Translate this Markdown document from the language '{source}' into the language "
            f"with ISO 639-1 code '{target}'. Keep the Markdown structure, every citation "
            f"marker like [3] and every URL exactly as they are. Answer with the translation "
            f"only.\n\n{markdown}"
        )
        system = "You are a professional translator."
        return await self.client.complete(system, prompt, temperature=0.0)
