"""Rendering one Markdown report into Markdown, PDF and DOCX files, written atomically.

The Markdown is parsed once with markdown-it-py; the HTML rendering is sanitised with nh3 and
printed by WeasyPrint with a URL fetcher that refuses every URL (a report never makes the
renderer touch the network or the disk); the DOCX is built with python-docx from the same
token stream. :func:`write_atomic` writes a temp file in the target folder, fsyncs it and
renames it into place, so a file that has a name is always complete.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nh3
from docx import Document as DocxDocument
from docx.document import Document as DocxFile
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tk9.events import FileKind

_CSS = """
@page { size: A4; margin: 2cm; @bottom-center { content: counter(page); font-size: 9pt; } }
body { font-family: "DejaVu Serif", serif; font-size: 11pt; line-height: 1.45; }
h1 { font-size: 20pt; margin-bottom: 4pt; }
h2 { font-size: 14pt; margin-top: 16pt; border-bottom: 1px solid #999; }
li { margin-bottom: 3pt; }
code { font-family: "DejaVu Sans Mono", monospace; }
"""


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: Path
    kind: FileKind
    size_bytes: int
    sha256: str


def parse(markdown: str) -> list[Token]:
    """The one parse every format is rendered from."""
    return _md().parse(markdown)


def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def to_html(tokens: list[Token], title: str, language: str) -> str:
    """A complete, sanitised HTML document."""
    body = nh3.clean(_md().renderer.render(tokens, _md().options, {}))
    return (
        f'<!DOCTYPE html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def to_pdf(document_html: str) -> bytes:
    """Print the HTML with WeasyPrint; every external URL is refused."""
    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    fetcher = URLFetcher(allowed_protocols=())
    pdf = HTML(string=document_html, url_fetcher=fetcher).write_pdf()
    if not isinstance(pdf, bytes):  # write_pdf returns bytes when no target is given
        raise TypeError("WeasyPrint returned no PDF bytes")
    return pdf


def to_docx(tokens: list[Token], title: str) -> bytes:
    """A Word document built from the token stream (headings, paragraphs, lists, emphasis).

    Every ordered list gets a numbering instance of its own that starts at the list's first
    number, so the reference list counts 1, 2, 3... like the ``[n]`` markers instead of going
    on from the table of contents (one shared "List Number" instance would continue it).
    """
    doc = DocxDocument()
    doc.core_properties.title = title
    list_styles: list[str] = []
    list_nums: list[int | None] = []
    heading_level = 0
    in_item = False
    for token in tokens:
        if token.type == "heading_open":
            heading_level = int(token.tag[1])
        elif token.type == "heading_close":
            heading_level = 0
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            ordered = token.type == "ordered_list_open"
            list_styles.append("List Number" if ordered else "List Bullet")
            list_nums.append(_new_numbering(doc, _list_start(token)) if ordered else None)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_styles.pop()
            list_nums.pop()
        elif token.type == "list_item_open":
            in_item = True
        elif token.type == "list_item_close":
            in_item = False
        elif token.type == "inline":
            if heading_level:
                paragraph = doc.add_heading(level=min(heading_level - 1, 9))
            elif in_item and list_styles:
                paragraph = doc.add_paragraph(style=list_styles[-1])
                if list_nums[-1] is not None:
                    _number_with(paragraph, list_nums[-1])
            else:
                paragraph = doc.add_paragraph()
            _add_runs(paragraph, token.children or [])
        elif token.type in ("fence", "code_block"):
            doc.add_paragraph(token.content.rstrip("\n"))
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _list_start(token: Token) -> int:
    start = token.attrGet("start")
    return int(start) if isinstance(start, int | str) and str(start).isdigit() else 1


def _new_numbering(doc: DocxFile, start: int) -> int:
    """A new numbering instance of the "List Number" style's list, restarting at ``start``."""
    style_num = doc.styles["List Number"].element.pPr.numPr.numId.val
    numbering = doc.part.numbering_part.element
    num = numbering.add_num(numbering.num_having_numId(style_num).abstractNumId.val)
    num.add_lvlOverride(ilvl=0).add_startOverride(start)
    return int(num.numId)


def _number_with(paragraph: Paragraph, num_id: int) -> None:
    num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = 0
    num_pr.get_or_add_numId().val = num_id


def _add_runs(paragraph: Paragraph, children: list[Token]) -> None:
    bold = italic = False
    for child in children:
        if child.type == "strong_open":
            bold = True
        elif child.type == "strong_close":
            bold = False
        elif child.type == "em_open":
            italic = True
        elif child.type == "em_close":
            italic = False
        elif child.type in ("text", "code_inline", "html_inline"):
            run = paragraph.add_run(child.content)
            run.bold = bold or None
            run.italic = italic or None
        elif child.type == "softbreak":
            paragraph.add_run(" ")
        elif child.type == "hardbreak":
            paragraph.add_run().add_break()


def safe_markdown(markdown: str) -> str:
    """The report's Markdown with raw HTML shown as text and no server file paths.

    Subjects, source titles and source text end up in the report; a viewer that renders
    Markdown with HTML enabled would run a ``<script>`` or an ``<img onerror>`` found there.
    markdown-it (HTML on, as such a viewer would parse it) finds every raw HTML block and
    inline tag; each is rewritten with its ``<``/``>`` as entities, so it reads the same and
    runs nowhere. ``file:`` URIs (documents of a local corpus) would show where the server
    keeps its files: they are replaced by the file's name.
    """
    lines = markdown.splitlines(keepends=True)
    for token in MarkdownIt("commonmark", {"html": True}).parse(markdown):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "html_block":
            for i in range(start, end):
                lines[i] = html.escape(lines[i], quote=False)
            continue
        edits: list[tuple[str, str]] = []
        for child in token.children or []:
            if child.type == "html_inline":
                edits.append((child.content, html.escape(child.content, quote=False)))
            elif child.type == "text" and "file:" in child.content:
                # markdown-it refuses to link file: URIs, so they stay text like <file:///…>
                for word in child.content.split():
                    uri = word.strip("<>()[]")
                    if uri.startswith("file:"):
                        name = unquote(urlsplit(uri).path).rsplit("/", 1)[-1]
                        edits += [(f"<{uri}>", f"local document *{name}*"), (uri, name)]
        if edits:
            segment = "".join(lines[start:end])
            for old, new in edits:
                segment = segment.replace(old, new)
            lines[start:end] = [segment] + [""] * (end - start - 1)
    return "".join(lines)


def render_all(markdown: str, title: str, language: str) -> dict[FileKind, bytes]:
    """Markdown, PDF and DOCX bytes of one report (blocking; run it in a thread); the
    Markdown made safe first (:func:`safe_markdown`), so every format shows the same text."""
    markdown = safe_markdown(markdown)
    tokens = parse(markdown)
    document_html = to_html(tokens, title, language)
    return {
        FileKind.MD: markdown.encode("utf-8"),
        FileKind.PDF: to_pdf(document_html),
        FileKind.DOCX: to_docx(tokens, title),
    }


def write_atomic(path: Path, data: bytes) -> WrittenFile:
    """Write ``data`` to a temp file beside ``path``, fsync, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the file from a proxy serving it
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    kind = FileKind(path.suffix.lstrip(".").lower())
    return WrittenFile(path, kind, len(data), hashlib.sha256(data).hexdigest())
