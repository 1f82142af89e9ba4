"""Translation of the finished Markdown report: Apertium, an LLM, or an explicit skip.

The Translator never passes an untranslated copy off as a translation: when neither an
installed Apertium pair nor a configured LLM can do the language pair, :func:`choose_translator`
returns the reason, the agent is shown as ``skipped`` with it and the run ends
``completed_with_warnings``. :func:`translation_routes` makes the same choice for every language
up front, so the dashboard and the CLI can say *before* a run starts how its report will be
translated, or that it will stay in English.

The pipeline hands over the report without its reference list and appends the list untouched:
titles and URIs name documents in their own language and must not be "translated".
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tk9.errors import ResearchError
from tk9.research.languages import LANGUAGE_NAMES, language_name
from tk9.research.validate import SOURCE_LANGUAGE

APERTIUM_CODES: dict[str, str] = {
    "af": "afr", "an": "arg", "ar": "ara", "be": "bel", "bg": "bul", "br": "bre", "bs": "hbs",
    "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu", "el": "ell", "en": "eng",
    "eo": "epo", "es": "spa", "eu": "eus", "fr": "fra", "ga": "gle", "gl": "glg", "hi": "hin",
    "hr": "hbs", "id": "ind", "is": "isl", "it": "ita", "kk": "kaz", "mk": "mkd", "ms": "msa",
    "mt": "mlt", "nb": "nob", "nl": "nld", "nn": "nno", "oc": "oci", "pl": "pol", "pt": "por",
    "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv", "sq": "sqi", "sr": "hbs", "sv": "swe",
    "tt": "tat", "uk": "ukr", "ur": "urd",
}  # fmt: skip
"""ISO 639-1 → Apertium's ISO 639-3 codes, for the languages Apertium has pairs for."""

UNUSABLE_MODES: frozenset[str] = frozenset({"eng-hbs"})
"""Installed modes that do not translate. Debian's ``apertium-hbs-eng`` ships an eng→hbs
direction that glosses word by word and leaves English in place ("The rijeka dotok kroz the star
grad"); offering it would pass an untranslated copy off as a translation."""

Method = Literal["source", "apertium", "llm", "none"]
"""How a report reaches a language: it is the source, an Apertium mode, the LLM, or not at all."""

LLM_HOW = "the configured language model"


@dataclass(frozen=True)
class Route:
    """How a report in the source language would reach ``code`` on this server, and why."""

    code: str
    name: str
    method: Method
    how: str
    """``Apertium eng-cat``, the LLM, or the sentence saying why there is no translator."""
    mode: str | None = None
    """The Apertium mode, for ``method == "apertium"``."""


def parse_apertium_list(text: str) -> frozenset[str]:
    """The mode names in the output of ``apertium -l`` (one per line, indented)."""
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def apertium_mode(source: str, target: str, modes: frozenset[str]) -> str | None:
    """The installed mode translating ``source → target``, if any.

    Debian's pairs name their modes with ISO 639-3 codes (``eng-cat``) or, for older pairs,
    ISO 639-1 codes (``en-gl``, ``en-eo``): both are looked for.
    """
    src, dst = APERTIUM_CODES.get(source), APERTIUM_CODES.get(target)
    candidates = [f"{src}-{dst}"] if src and dst else []
    candidates.append(f"{source}-{target}")
    return next((m for m in candidates if m in modes and m not in UNUSABLE_MODES), None)


def route(source: str, target: str, modes: frozenset[str], llm_configured: bool) -> Route:
    """How ``source → target`` would be translated. Preference: an installed Apertium mode
    (fast, deterministic, offline), then the LLM; otherwise ``none`` with the reason."""
    name = language_name(target)
    if target == source:
        return Route(target, name, "source", f"{name} is the language the report is written in")
    mode = apertium_mode(source, target, modes)
    if mode is not None:
        return Route(target, name, "apertium", f"Apertium {mode}", mode)
    if llm_configured:
        return Route(target, name, "llm", LLM_HOW)
    return Route(target, name, "none", untranslated_warning(target))


def untranslated_warning(target: str, *, ahead: bool = True) -> str:
    """What a user is told when ``target`` cannot be reached: before the run (``ahead``), and
    as the finished run's warning."""
    will = "will be" if ahead else "is"
    return (
        f"No offline translator for {language_name(target)} ({target}): the report {will} in "
        "English only. Install an Apertium pair for it or configure a language model "
        "(TK9_ENGINE=llm)"
    )


def translation_routes(
    source: str, modes: frozenset[str], llm_configured: bool
) -> dict[str, Route]:
    """The :class:`Route` of every accepted language, by code."""
    return {code: route(source, code, modes, llm_configured) for code in sorted(LANGUAGE_NAMES)}


class Translator(Protocol):
    name: str

    async def translate(self, markdown: str, source: str, target: str) -> str:
        """The translated Markdown; raises :class:`ResearchError` on failure."""
        ...


class ApertiumTranslator:
    """Rule-based machine translation with Debian's ``apertium`` and an installed pair."""

    name = "apertium"

    def __init__(self, mode: str, timeout: float = 120.0) -> None:
        self.mode = mode
        self.timeout = timeout

    async def translate(self, markdown: str, source: str, target: str) -> str:
        # The text goes in as a file, not through stdin: under uvloop (uvicorn's default loop)
        # a child's stdin is a socket, which apertium's format filters refuse.
        with tempfile.TemporaryDirectory(prefix="tk9-apertium-") as tmp:
            source_file = Path(tmp) / "in.txt"
            source_file.write_text(markdown, encoding="utf-8")
            return await self._run(str(source_file))

    async def _run(self, source_file: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "apertium",
            "-u",
            self.mode,
            source_file,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()[:300]
            raise ResearchError(f"apertium {self.mode} failed: {detail or proc.returncode}")
        return out.decode("utf-8", errors="replace")


async def apertium_pairs(timeout: float = 10.0) -> frozenset[str]:
    """Installed Apertium modes such as ``eng-spa`` (empty when apertium is missing)."""
    if shutil.which("apertium") is None:
        return frozenset()
    proc = await asyncio.create_subprocess_exec(
        "apertium",
        "-l",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return frozenset()
    return parse_apertium_list(out.decode(errors="replace"))


async def choose_translator(
    source: str, target: str, llm: Translator | None
) -> tuple[Translator | None, Route]:
    """The translator for ``source → target`` (``None`` when there is none) and its route."""
    chosen = route(source, target, await apertium_pairs(), llm is not None)
    if chosen.mode is not None:
        return ApertiumTranslator(chosen.mode), chosen
    if chosen.method == "llm":
        return llm, chosen
    return None, chosen


async def route_here(target: str, llm_configured: bool) -> Route:
    """How a report would reach ``target`` on this machine now (reads ``apertium -l``)."""
    return route(SOURCE_LANGUAGE, target, await apertium_pairs(), llm_configured)
