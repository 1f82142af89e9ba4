"""The report's "about" paragraph (:func:`tk9.research.coverage.describe_report`)."""

from __future__ import annotations

from tk9.research.coverage import Coverage, PhraseScore, describe_report
from tk9.research.subject import parse


def covered(subject: str) -> Coverage:
    understood = parse(subject)
    return Coverage(tuple(PhraseScore(p, 1.0, True) for p in understood.phrases), (), 1.0)


def test_a_full_report_says_what_it_quotes_and_nothing_about_being_short() -> None:
    about = describe_report(covered("Nile"), parse("Nile"), 9, 12, 0, 1234, 8)
    assert about.startswith("The sources cover 1 of 1 key phrase(s) of the subject.")
    assert "quotes 9 sources of 12 documents the corpus holds on the subject (1,234 words" in about
    assert "shorter than a full one" not in about
    assert "only names the subject" not in about


def test_a_thin_corpus_and_naming_only_documents_are_said() -> None:
    about = describe_report(covered("Nile"), parse("Nile"), 3, 3, 1, 210, 8)
    assert "and 1 document that names it (210 words of prose)" in about
    assert "quotes just the sentences that name it" in about
    assert "The corpus holds only 3 documents on this subject" in about


def test_the_framing_the_subject_was_read_with_is_said() -> None:
    subject = parse("Causes of the French Revolution")
    about = describe_report(covered(subject.text), subject, 9, 12, 0, 900, 8)
    assert subject.framing
    assert f"The subject was read as asking about: {subject.framing}." in about
