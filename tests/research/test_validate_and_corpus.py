"""Bad input is refused before any work starts; the corpus index is incremental."""

from __future__ import annotations

from pathlib import Path

import pytest

from tk9.errors import InvalidInput
from tk9.research.corpus import CorpusIndex, fts_query
from tk9.research.documents import read_document, wiki_data_file
from tk9.research.retrieval import check_corpus
from tk9.research.validate import validate_request
from tk9.settings import Settings


def test_valid_request_is_normalised() -> None:
    assert validate_request("  photo\n synthesis  ", " ES ") == ("photo synthesis", "es")


@pytest.mark.parametrize(
    ("subject", "language", "needle"),
    [
        ("ab", "en", "at least 3"),
        ("   a  ", "en", "at least 3"),
        ("x" * 1001, "en", "at most 1000"),
        ("photosynthesis", "xx", "unknown language code 'xx'"),
        ("photosynthesis", "english", "ISO 639-1"),
        ("photosynthesis", "", "unknown language"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(
    subject: str, language: str, needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle):
        validate_request(subject, language)


def test_empty_or_missing_corpus_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.xlsx").write_bytes(b"not a document type tk9 reads")
    base = {"data_dir": tmp_path / "d", "_env_file": None}
    with pytest.raises(InvalidInput, match=r"holds no \.md"):
        check_corpus(Settings(corpus_dir=empty, **base))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="does not exist"):
        check_corpus(Settings(corpus_dir=tmp_path / "nope", **base))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="the corpus is empty"):
        check_corpus(Settings(use_wiki_corpus=False, **base))  # type: ignore[arg-type]


def test_wiki_corpus_is_found_without_importing_its_package() -> None:
    path = wiki_data_file()
    assert path is not None and path.name == "summaries_en-us.json"


def test_documents_of_every_kind_are_read(corpus: Path) -> None:
    html = read_document(corpus / "history.html")
    assert html.title == "History of photosynthesis research"
    assert "Priestley" in html.body and "alert" not in html.body and "color" not in html.body
    md = read_document(corpus / "chlorophyll.md")
    assert md.title == "Chlorophyll" and "#" not in md.body
    assert read_document(corpus / "calvin-cycle.txt").title == "Calvin cycle"


def test_pdf_documents_are_read(tmp_path: Path) -> None:
    from tk9.research.publish import parse, to_html, to_pdf

    pdf = tmp_path / "leaf.pdf"
    pdf.write_bytes(to_pdf(to_html(parse("# Leaf\n\nA leaf makes sugar.\n"), "Leaf", "en")))
    doc = read_document(pdf)
    assert "leaf makes sugar" in doc.body


def test_index_syncs_incrementally(corpus: Path, tmp_path: Path) -> None:
    index = CorpusIndex(tmp_path / "index.sqlite3")
    first = index.sync_folder(corpus)
    assert (first.added, first.updated, first.removed) == (6, 0, 0)
    again = index.sync_folder(corpus)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 6)
    (corpus / "volcano.txt").unlink()
    (corpus / "chlorophyll.md").write_text("# Chlorophyll\n\nChlorophyll is a pigment of kelp.\n")
    (corpus / "new.md").write_text("# Stomata\n\nStomata let carbon dioxide into a leaf.\n")
    third = index.sync_folder(corpus)
    assert (third.added, third.updated, third.removed, third.unchanged) == (1, 1, 1, 4)
    source = [f"dir:{corpus.resolve()}"]
    assert index.count(source) == 6
    assert [h.document.title for h in index.search("kelp", source)] == ["Chlorophyll"]
    assert index.search("volcano Etna", source) == []
    assert index.search("stomata", ["dir:/elsewhere"]) == []
    index.close()


def test_fts_query_quotes_words_so_syntax_cannot_leak() -> None:
    assert fts_query('NEAR(a b) OR "x" AND photosynthesis*') == '"near" OR "photosynthesis"'
    assert fts_query("the of and") == ""
