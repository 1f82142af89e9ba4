"""The home page's "what tk9 researches": the collections and how many documents are indexed."""

from __future__ import annotations

from pathlib import Path

from tk9.research.corpus_info import corpus_info
from tk9.research.retrieval import open_retriever
from tk9.settings import Settings


def _documents(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


async def test_corpus_info_names_the_folder_and_counts_once_indexed(
    settings: Settings, corpus: Path
) -> None:
    folder_only = settings.model_copy(update={"use_wiki_corpus": False})
    before = corpus_info(folder_only)
    assert before == {
        "collections": [f"the document folder “{corpus.name}”"],
        "documents": None,
        "web_search": False,
    }
    retriever = await open_retriever(folder_only)
    retriever.close()
    after = corpus_info(folder_only)
    assert after["documents"] == _documents(corpus) > 0
