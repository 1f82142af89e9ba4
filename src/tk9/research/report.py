"""The report as data, and its one Markdown rendering (the Publisher parses this Markdown)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from tk9.research.documents import Document


@dataclass(frozen=True, slots=True)
class Outline:
    """The Editor's plan: a title and the section headings."""

    title: str
    sections: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SectionDraft:
    """Section text whose ``[n]`` markers refer to ``evidence[n-1]``."""

    heading: str
    body: str
    evidence: tuple[Document, ...] = ()


@dataclass(slots=True)
class Report:
    """The finished report; every ``[n]`` marker refers to ``references[n-1]``."""

    title: str
    subject: str
    note: str
    introduction: str
    sections: list[tuple[str, str]]
    conclusion: str
    references: list[Document] = field(default_factory=list)
    about: str = ""
    """How well the sources cover the subject (coverage), shown before the references."""

    def to_markdown(self) -> str:
        """Title, note, table of contents, introduction, sections, conclusion, references."""
        return self.body_markdown() + "\n" + self.references_markdown()

    def references_markdown(self) -> str:
        """The numbered reference list (kept untranslated)."""
        lines = [
            f"{number}. {_escape(doc.title)} — <{doc.uri}>"
            for number, doc in enumerate(self.references, start=1)
        ]
        return "\n".join(lines) + "\n" if lines else "_No sources were cited._\n"

    def body_markdown(self) -> str:
        """Everything up to and including the "References" heading."""
        label = {
            "contents": "Contents",
            "introduction": "Introduction",
            "conclusion": "Conclusion",
            "about": "About this report",
            "references": "References",
        }
        headings = [label["introduction"], *(h for h, _ in self.sections), label["conclusion"]]
        if self.about:
            headings.append(label["about"])
        lines = [f"# {self.title}", "", f"*{self.note}*", "", f"## {label['contents']}", ""]
        lines += [f"{i}. {heading}" for i, heading in enumerate(headings, start=1)]
        lines += [f"{len(headings) + 1}. {label['references']}", ""]
        lines += [f"## {label['introduction']}", "", self.introduction.strip(), ""]
        for heading, body in self.sections:
            lines += [f"## {heading}", "", body.strip(), ""]
        lines += [f"## {label['conclusion']}", "", self.conclusion.strip(), ""]
        if self.about:
            lines += [f"## {label['about']}", "", self.about.strip(), ""]
        lines += [f"## {label['references']}"]
        return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def slugify(text: str, max_length: int = 60) -> str:
    """A safe, readable file stem: ASCII letters, digits and hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or "report"
