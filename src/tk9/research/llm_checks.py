"""Checks on what a language model wrote, before the pipeline accepts it.

* :func:`parse_outline` — the outline must be a JSON object with a list of section headings
  (a fenced or chatty answer around the object is tolerated).
* :func:`section_problem` — a section is refused when it repeats the prompt (a small model
  asked to write often echoes its instructions, and the echoed evidence block even carries
  valid-looking ``[n]`` markers), when it cites none of its evidence, or when every marker it
  wrote points at nothing. Echoes are measured with word-trigram containment: the share of the
  instruction's trigrams that reappear in the answer. Evidence text is left out of the
  instruction on purpose — quoting the evidence is allowed, repeating the instructions is not;
  pasting the numbered evidence block back (its ``[n] Title`` lines) is an echo too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tk9.research.citations import check_citations
from tk9.research.report import Outline

ECHO_THRESHOLD = 0.5
"""An answer holding at least this share of an instruction's word trigrams repeats it."""
COPY_THRESHOLD = 0.8
"""An answer with an evidence header line and this share of its trigrams from the prompt
pastes the evidence block back."""
NGRAM = 3
_HEADER = re.compile(r"^\[\d{1,4}\] \S")
_WORD = re.compile(r"\w+")
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_outline(text: str, subject: str, max_sections: int) -> Outline | None:
    """The outline in ``text``, or ``None`` when it holds no usable JSON outline."""
    match = _OBJECT.search(text)
    try:
        data: Any = json.loads(match.group(0) if match else text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    raw = data.get("sections")
    if not isinstance(raw, list):
        return None
    headings = []
    for item in raw:
        if isinstance(item, dict):  # {"title": "..."} or {"heading": "..."}
            item = item.get("title") or item.get("heading") or ""
        if isinstance(item, str | int | float) and str(item).strip():
            headings.append(str(item).strip())
    if not headings:
        return None
    title = data.get("title")
    title = title.strip() if isinstance(title, str) and title.strip() else subject
    return Outline(title=title, sections=tuple(headings[:max_sections]))


def _ngrams(text: str) -> set[tuple[str, ...]]:
    tokens = [w.lower() for w in _WORD.findall(text)]
    return {tuple(tokens[i : i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)}


def echo_ratio(answer: str, instruction: str) -> float:
    """The share of ``instruction``'s word trigrams that ``answer`` repeats (0..1)."""
    wanted = _ngrams(instruction)
    if not wanted:
        return 0.0
    return len(wanted & _ngrams(answer)) / len(wanted)


def repeats_prompt(answer: str, instructions: tuple[str, ...]) -> bool:
    """Whether ``answer`` repeats any one of ``instructions`` (system or user prompt)."""
    return any(echo_ratio(answer, text) >= ECHO_THRESHOLD for text in instructions)


def copies_evidence_block(answer: str, prompt: str) -> bool:
    """Whether ``answer`` is the prompt's evidence block pasted back: it holds one of the
    block's ``[n] Title`` header lines and most of its trigrams come from the prompt.

    Quoting a sentence or two is fine; reproducing the numbered block is an echo, and its
    headers would pass the citation check.
    """
    headers = {line.strip() for line in prompt.splitlines() if _HEADER.match(line)}
    if not headers or not headers & {line.strip() for line in answer.splitlines()}:
        return False
    grams = _ngrams(answer)
    return bool(grams) and len(grams & _ngrams(prompt)) / len(grams) >= COPY_THRESHOLD


def section_problem(
    answer: str, instructions: tuple[str, ...], evidence_count: int, prompt: str = ""
) -> str | None:
    """Why a section must be refused, in words for a log line, or ``None`` when it is fine."""
    if repeats_prompt(answer, instructions) or copies_evidence_block(answer, prompt):
        return "repeated the prompt instead of writing the section"
    check = check_citations(answer, evidence_count)
    if not check.cited:
        if check.invalid:
            return (
                "cited only sources that do not exist "
                f"({', '.join(f'[{n}]' for n in sorted(set(check.invalid)))})"
            )
        return "cited none of its sources"
    return None


def trim_to_sentence(text: str) -> str:
    """Drop an unfinished last sentence (the model hit ``max_tokens`` mid-sentence)."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in ".!?:)]\"'”»":
        return stripped
    cut = max(stripped.rfind(mark) for mark in (". ", "! ", "? ", ".\n"))
    return stripped[: cut + 1].rstrip() if cut > 0 else stripped
