"""The published ``.md`` carries no live HTML from subjects or sources and no server paths."""

from __future__ import annotations

from markdown_it import MarkdownIt

from tk9.events import FileKind
from tk9.research.documents import Document
from tk9.research.publish import parse, render_all, safe_markdown, to_html
from tk9.research.report import Report

HOSTILE = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def hostile_report() -> Report:
    return Report(
        title=f"Tidal power {IMG}",
        subject=f"Tidal power {HOSTILE}",
        note="Written from 2 sources.",
        introduction=f"Intro quoting a source: {IMG} and <b onclick=x>bold</b> [1].",
        sections=[("History", f"{HOSTILE}\n\nMore text [2].")],
        conclusion="Done.",
        references=[
            Document(uri="https://en.wikipedia.org/wiki/Tidal", title=f"Tidal {IMG}", body=""),
            Document(uri="file:///srv/tk9/data/corpus/secret%20notes.txt", title="Notes", body=""),
        ],
    )


def html_tokens(markdown: str) -> list[str]:
    """What a Markdown viewer with HTML enabled would pass through as raw HTML."""
    found = []
    for token in MarkdownIt("commonmark", {"html": True}).parse(markdown):
        if token.type == "html_block":
            found.append(token.content)
        found += [c.content for c in token.children or [] if c.type == "html_inline"]
    return found


def test_raw_html_in_the_report_becomes_text() -> None:
    source = hostile_report().to_markdown()
    assert html_tokens(source)  # the threat is real before
    safe = safe_markdown(source)
    assert html_tokens(safe) == []
    assert "<script" not in safe
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in safe  # shown, not dropped
    assert "https://en.wikipedia.org/wiki/Tidal" in safe  # autolinks stay links


def test_no_server_path_in_any_format() -> None:
    files = render_all(hostile_report().to_markdown(), "Tidal power", "en")
    md = files[FileKind.MD].decode()
    assert "file:" not in md and "/srv/tk9" not in md
    assert "secret notes.txt" in md  # the document is still named
    assert html_tokens(md) == []
    page = to_html(parse(md), "Tidal power", "en")
    assert "/srv/tk9" not in page and "<script" not in page


def test_safe_markdown_keeps_ordinary_markdown_as_is() -> None:
    plain = "# Title\n\n*note*\n\n1. one\n2. two\n\nText with `a < b` and 3 > 2 [1].\n"
    assert safe_markdown(plain) == plain
