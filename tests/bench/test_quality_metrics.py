"""The research-quality benchmark's metric functions (pure: a Markdown report in, figures out)."""

from __future__ import annotations

import pytest
from bench.quality_metrics import (
    LABELS,
    Subject,
    central_recall,
    cited_titles,
    label_errors,
    load_subjects,
    off_topic,
    prose_words,
    source_precision,
    wrongly_green,
)

from tk9.research.documents import wiki_data_file, wiki_documents

REPORT = """# Coral reef bleaching

*This report is extractive: tk9 selected every sentence from the cited sources.*

## Contents

1. Introduction
2. Coral reef
3. Conclusion
4. References

## Introduction

A coral reef is an underwater ecosystem. [1]
Bleach is a chemical product. [3]

## Coral reef

Reefs are formed of colonies of coral polyps, held together by calcium carbonate. [1][2]

## Conclusion

- **Coral reef**: Reef fish live on the reefs. [2, 3]

## References

1. Coral reef — <https://en.wikipedia.org/wiki/Coral_reef>
2. Crane \\(machine\\) — <https://en.wikipedia.org/wiki/Crane_(machine)>
3. Bleach — <https://en.wikipedia.org/wiki/Bleach>
"""

CORAL = Subject(
    name="Coral reef bleaching",
    central=("Coral reef", "Coral"),
    on_topic=("Great Barrier Reef",),
    traps=("Bleach",),
)


def test_cited_titles_come_from_the_reference_list_in_order() -> None:
    assert cited_titles(REPORT) == ["Coral reef", "Crane (machine)", "Bleach"]


def test_cited_titles_without_wiki_urls_and_without_references() -> None:
    local = "# T\n\n## Sources\n\n1. My \\*notes\\* — <file:///tmp/notes.md>\n- [Other](https://x.org/a)\n"
    assert cited_titles(local) == ["My *notes*", "Other"]
    assert cited_titles("# T\n\n## Introduction\n\nNo sources.\n") == []


def test_prose_words_leave_out_title_note_headings_contents_references_and_markers() -> None:
    # introduction 7 + 5, section 13, conclusion 2 (the bold label) + 6
    assert prose_words(REPORT) == 7 + 5 + 13 + 2 + 6


def test_prose_words_leave_out_the_note_about_the_report() -> None:
    about = "## About this report\n\nThe sources cover 2 of 3 key phrases.\n\n## References\n"
    assert prose_words(REPORT.replace("## References\n", about)) == prose_words(REPORT)


def test_prose_words_and_references_leave_out_the_timeline_appendix() -> None:
    timeline = "\n## How this report was made\n\n- **Browser**: completed, 0.0 s → 1.2 s\n"
    assert prose_words(REPORT + timeline) == prose_words(REPORT)
    assert cited_titles(REPORT + timeline) == cited_titles(REPORT)


def test_prose_words_of_nothing() -> None:
    assert prose_words("") == 0
    assert prose_words("# Title\n\n*A note under the title.*\n") == 0


def test_precision_counts_traps_and_unlabelled_titles_as_off_topic() -> None:
    cited = cited_titles(REPORT)
    assert source_precision(cited, CORAL) == 1 / 3
    assert source_precision(["Coral reef", "Coral reef", "Coral"], CORAL) == 1.0
    assert source_precision([], CORAL) is None
    assert (
        source_precision(["Quark"], Subject(name="Strange quarks in 2031", covered=False)) is None
    )
    assert off_topic(cited, CORAL) == ["Bleach", "Crane (machine)"]  # traps first


def test_central_recall() -> None:
    assert central_recall(cited_titles(REPORT), CORAL) == 0.5
    assert central_recall(["Coral", "Coral reef"], CORAL) == 1.0
    assert central_recall([], CORAL) == 0.0
    assert central_recall([], Subject(name="Nowhere", covered=False)) is None


def test_wrongly_green() -> None:
    uncovered = Subject(name="Zorblax Industries", covered=False)
    assert wrongly_green("completed", CORAL, ["Coral reef", "Bleach"])
    assert wrongly_green("completed", uncovered, [])
    assert not wrongly_green("completed", CORAL, ["Coral reef", "Great Barrier Reef"])
    assert not wrongly_green("completed_with_warnings", CORAL, ["Bleach"])
    assert not wrongly_green("failed", uncovered, [])


def test_labels_file_is_consistent() -> None:
    subjects = load_subjects(LABELS)
    covered = [s for s in subjects if s.covered]
    assert len(covered) >= 30 and len(subjects) - len(covered) >= 3
    assert all(s.central for s in covered)
    assert len({s.name for s in subjects}) == len(subjects)
    titles = {t for s in subjects for t in (*s.central, *s.on_topic, *s.traps)}
    assert label_errors(subjects, titles) == []  # no title is both relevant and a trap
    assert label_errors([CORAL], {"Coral reef"}) == [
        "Coral reef bleaching: 'Coral' is not a corpus title",
        "Coral reef bleaching: 'Great Barrier Reef' is not a corpus title",
        "Coral reef bleaching: 'Bleach' is not a corpus title",
    ]


def test_every_labelled_title_is_in_the_wiki_corpus() -> None:
    data = wiki_data_file()
    if data is None:
        pytest.skip("the wiki corpus is not installed (uv sync --all-extras)")
    titles = {doc.title for doc in wiki_documents(data)}
    assert label_errors(load_subjects(LABELS), titles) == []
