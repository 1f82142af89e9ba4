"""What a server researches, said to its users: which document collections, how many documents."""

from __future__ import annotations

from typing_extensions import TypedDict  # pydantic reads it on Python < 3.12

from tk9.research.corpus import CorpusIndex, folder_source, wiki_source
from tk9.research.documents import wiki_data_file
from tk9.research.retrieval import index_path
from tk9.settings import Settings


class CorpusInfo(TypedDict):
    collections: list[str]
    """One line per collection, e.g. ``"Wikipedia summaries (offline, English)"``."""
    documents: int | None
    """Documents indexed from those collections; ``None`` before the first run indexes them."""
    web_search: bool


def corpus_info(settings: Settings) -> CorpusInfo:
    """The collections a run would search and the size of their index (blocking: SQLite)."""
    collections: list[str] = []
    sources: list[str] = []
    if settings.corpus_dir is not None:
        collections.append(f"the document folder “{settings.corpus_dir.name}”")
        sources.append(folder_source(settings.corpus_dir))
    if settings.use_wiki_corpus and wiki_data_file() is not None:
        collections.append("Wikipedia summaries (offline, English)")
        sources.append(wiki_source())
    documents: int | None = None
    path = index_path(settings)
    if sources and path.is_file():
        index = CorpusIndex(path)
        try:
            documents = index.count(sources) or None
        finally:
            index.close()
    return {
        "collections": collections,
        "documents": documents,
        "web_search": settings.search_provider != "none",
    }
