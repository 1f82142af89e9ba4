"""The DOCX rendering: list numbering a reader sees matches the report's ``[n]`` markers."""

from __future__ import annotations

import io
import re
from typing import Any

import docx
from docx.document import Document as DocxFile
from docx.oxml.ns import qn

from tk9.research.documents import Document
from tk9.research.publish import parse, to_docx
from tk9.research.report import Report


def _report() -> Report:
    refs = [
        Document(uri=f"https://example.org/{name}", title=name, body=f"{name} text.")
        for name in ("Photosynthesis", "Chlorophyll", "Calvin cycle")
    ]
    return Report(
        title="Photosynthesis",
        subject="photosynthesis",
        note="Written from 3 sources.",
        introduction="Plants make sugar from light [1].",
        sections=[
            ("Pigments", "Chlorophyll absorbs light [2]."),
            ("Carbon fixation", "The Calvin cycle fixes carbon [3]."),
        ],
        conclusion="Light becomes sugar [1] [3].",
        references=refs,
    )


def _numbers(word: DocxFile) -> list[tuple[int, str]]:
    """(shown number, text) of every numbered paragraph, counted the way Word counts them:
    per numbering instance, from its ``startOverride`` (else its list's ``start``, else 1)."""
    numbering = word.part.numbering_part.element
    starts: dict[int, int] = {}
    for num in numbering.num_lst:
        override = num.find(f"{qn('w:lvlOverride')}/{qn('w:startOverride')}")
        if override is not None:
            starts[int(num.numId)] = int(override.get(qn("w:val")))
        else:
            abstract_id = num.abstractNumId.val
            abstract = next(
                a
                for a in numbering.findall(qn("w:abstractNum"))
                if int(a.get(qn("w:abstractNumId"))) == abstract_id
            )
            start = abstract.find(f"{qn('w:lvl')}/{qn('w:start')}")
            starts[int(num.numId)] = int(start.get(qn("w:val"))) if start is not None else 1
    counters: dict[int, int] = {}
    shown: list[tuple[int, str]] = []
    for paragraph in word.paragraphs:
        num_pr: Any = paragraph._p.pPr.numPr if paragraph._p.pPr is not None else None
        if num_pr is None and paragraph.style is not None and paragraph.style.name == "List Number":
            num_pr = paragraph.style.element.pPr.numPr
        if num_pr is None or num_pr.numId is None:
            continue
        num_id = int(num_pr.numId.val)
        counters[num_id] = counters.get(num_id, starts[num_id] - 1) + 1
        shown.append((counters[num_id], paragraph.text))
    return shown


def test_reference_numbers_restart_at_1_and_match_the_citation_markers() -> None:
    report = _report()
    word = docx.Document(io.BytesIO(to_docx(parse(report.to_markdown()), report.title)))
    shown = _numbers(word)
    contents = shown[:5]  # Introduction, 2 sections, Conclusion, References
    references = shown[5:]
    assert [n for n, _ in contents] == [1, 2, 3, 4, 5]
    assert [t for _, t in contents] == [
        "Introduction",
        "Pigments",
        "Carbon fixation",
        "Conclusion",
        "References",
    ]
    assert [n for n, _ in references] == [1, 2, 3]
    body = "\n".join(p.text for p in word.paragraphs)
    for marker in {int(m) for m in re.findall(r"\[(\d+)\]", body)}:
        number, text = references[marker - 1]
        assert number == marker
        assert text.startswith(report.references[marker - 1].title)


def test_an_ordered_list_keeps_its_own_first_number() -> None:
    markdown = "1. one\n2. two\n\ntext\n\n7. seven\n8. eight\n\n- a bullet\n"
    word = docx.Document(io.BytesIO(to_docx(parse(markdown), "t")))
    assert _numbers(word) == [(1, "one"), (2, "two"), (7, "seven"), (8, "eight")]
