"""Translation of the finished Markdown report: Apertium, an LLM, or an explicit skip.

The Translator never passes an untranslated copy off as a translation: when neither an
installed Apertium pair nor a configured LLM can do the language pair, :func:`choose_translator`
returns the reason, and the agent is shown as ``skipped`` with it.

The pipeline hands over the report without its reference list and appends the list untouched:
titles and URIs name documents in their own language and must not be "translated".
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from tk9.errors import ResearchError

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


async def apertium_pairs() -> set[str]:
    """Installed Apertium modes such as ``eng-spa`` (empty when apertium is missing)."""
    if shutil.which("apertium") is None:
        return set()
    proc = await asyncio.create_subprocess_exec(
        "apertium", "-l", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await proc.communicate()
    return {line.strip() for line in out.decode().splitlines() if line.strip()}


async def choose_translator(
    source: str, target: str, llm: Translator | None
) -> tuple[Translator | None, str]:
    """The translator for ``source → target`` and a sentence saying which (or why none).

    Preference: an installed Apertium pair (fast, deterministic, offline), then the LLM.
    """
    src, dst = APERTIUM_CODES.get(source), APERTIUM_CODES.get(target)
    if src and dst:
        mode = f"{src}-{dst}"
        if mode in await apertium_pairs():
            return ApertiumTranslator(mode), f"Apertium {mode}"
    if llm is not None:
        return llm, "the configured language model"
    return None, f"no translator for {source}→{target}"


async def translation_targets(source: str, llm_configured: bool) -> list[str]:
    """The ISO 639-1 codes a report in ``source`` can really be translated into here.

    The source itself is included (no translation needed). With a language model configured,
    every code is a target; otherwise only the installed Apertium pairs are.
    """
    from tk9.research.validate import ISO_639_1

    if llm_configured:
        return sorted(ISO_639_1)
    src = APERTIUM_CODES.get(source)
    pairs = await apertium_pairs()
    targets = {source}
    for iso, code in APERTIUM_CODES.items():
        if src and f"{src}-{code}" in pairs:
            targets.add(iso)
    return sorted(targets)
