"""Where evidence comes from for one run: the corpus index and, optionally, web search."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tk9.errors import InvalidInput, ResearchError
from tk9.research.corpus import CorpusIndex, SyncReport, folder_source
from tk9.research.documents import Document, corpus_files, wiki_data_file
from tk9.research.embedding import DIM, Embedder, EmbeddingUnavailable, shared_embedder
from tk9.research.hybrid import EmbedReport, PassageHit, embed_corpus, search_passages
from tk9.research.named import named_by, runs
from tk9.research.relevance import Relevance
from tk9.research.search import WebSearch
from tk9.settings import Settings


def index_path(settings: Settings) -> Path:
    return settings.data_dir / "corpus" / "index.sqlite3"


def check_corpus(settings: Settings) -> None:
    """Raise :class:`InvalidInput` when the configuration gives a run nothing to read."""
    if settings.corpus_dir is not None:
        if not corpus_files(settings.corpus_dir):
            raise InvalidInput(
                f"corpus folder {str(settings.corpus_dir)!r} holds no .md, .txt, .html or "
                ".pdf documents"
            )
        return
    if settings.use_wiki_corpus and wiki_data_file() is not None:
        return
    if WebSearch.from_settings(settings) is not None:
        return
    raise InvalidInput(
        "the corpus is empty: set TK9_CORPUS_DIR (or --corpus), install the 'wiki' extra, "
        "or configure a search provider"
    )


@dataclass(slots=True)
class Retriever:
    """Searches the run's corpus sources and the web, merging results without duplicates."""

    index: CorpusIndex | None
    sources: list[str]
    web: WebSearch | None = None
    reports: list[SyncReport] = field(default_factory=list)
    embedder: Embedder | None = None
    """The sentence-embedding model; ``None`` when it is not installed (lexical only)."""
    embedding: EmbedReport | None = None
    """How the corpus embedding went at open (``pending`` > 0: dense search is partial)."""

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length embeddings of ``texts``, shape ``(len(texts), 384)`` float32, so that
        ``a @ b.T`` are cosine similarities (subjects, headings, sentences). Repeated texts come
        from an in-memory LRU. Raises :class:`EmbeddingUnavailable` without a model."""
        if self.embedder is None:
            raise EmbeddingUnavailable("no sentence-embedding model is loaded")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return await asyncio.to_thread(self.embedder.embed, list(texts))

    async def passages(
        self,
        query: str,
        limit: int = 20,
        exclude: Iterable[str] = (),
        vector: NDArray[np.float32] | None = None,
    ) -> list[PassageHit]:
        """The ``limit`` best corpus passages for ``query``, BM25 and embedding similarity
        fused (see :mod:`tk9.research.hybrid`); each hit has its document, passage text,
        ``lexical`` and ``dense`` scores and its embedding. ``vector`` replaces the query's
        embedding (e.g. a heading's). Lexical only when no model is installed."""
        if self.index is None or not self.sources:
            return []
        return await asyncio.to_thread(
            search_passages,
            self.index,
            self.embedder,
            query,
            self.sources,
            limit,
            set(exclude),
            vector,
        )

    async def search(self, query: str, limit: int, exclude: Iterable[str] = ()) -> list[Document]:
        excluded = set(exclude)
        docs: list[Document] = []
        if self.index is not None and self.sources:
            index = self.index
            hits = await asyncio.to_thread(index.search, query, self.sources, limit, excluded)
            docs.extend(hit.document for hit in hits)
        if self.web is not None:
            for doc in await self.web.search(query, limit):
                if doc.uri not in excluded and all(d.uri != doc.uri for d in docs):
                    docs.append(doc)
        return docs

    async def named_by(self, articles: Sequence[Document]) -> list[Document]:
        """The corpus documents that ``articles`` name by title in their text (see
        :mod:`tk9.research.named`); none without a corpus index."""
        if self.index is None or not self.sources or not articles:
            return []
        index = self.index
        found = await asyncio.to_thread(
            index.titled, [r for a in articles for r in runs(a.body)], self.sources
        )
        return named_by(articles, found)

    async def relevance(self, subject: str) -> Relevance:
        """How to judge whether a document is about ``subject``, weighted by this corpus."""
        if self.index is None or not self.sources:
            return Relevance.from_counts(subject, None, 0)
        index = self.index
        frequencies = await asyncio.to_thread(index.frequencies, subject, self.sources)
        total = await self.document_count()
        return Relevance.from_counts(subject, frequencies, total)

    async def document_count(self) -> int:
        if self.index is None:
            return 0
        return await asyncio.to_thread(self.index.count, self.sources)

    def close(self) -> None:
        if self.index is not None:
            self.index.close()


def _embedder(settings: Settings) -> Embedder | None:
    try:
        return shared_embedder(settings.models_dir or settings.data_dir / "models")
    except EmbeddingUnavailable:
        return None


Progress = Callable[[int, int], Coroutine[Any, Any, None]]
"""``await progress(done, total)`` while the corpus is embedded (on the event loop)."""


def _throttled(progress: Progress, loop: asyncio.AbstractEventLoop) -> Callable[[int, int], None]:
    """A thread-side callback that runs ``progress`` on ``loop`` about 50 times per job (and
    waits for it, so events keep their order)."""
    last = -1

    def report(done: int, total: int) -> None:
        nonlocal last
        if done in (0, total) or done - last >= max(256, total // 50):
            last = done
            asyncio.run_coroutine_threadsafe(progress(done, total), loop).result()

    return report


async def open_retriever(
    settings: Settings, progress: Progress | None = None, budget: float | None = None
) -> Retriever:
    """Sync the configured sources into the index (incrementally), embed passages not yet
    embedded, and return a retriever.

    A configured corpus folder replaces the wiki; the wiki is the default demo corpus.
    ``progress(done, total)`` follows the embedding step, the only slow one on a first run
    (the 13.5k wiki passages take 1–2 minutes on two idle cores); it stops after
    ``budget`` seconds (default ``settings.embed_budget``, 90 s: lead passages go first, so a
    first run on a slow or busy host stays about two minutes) and the next runs continue it. Later
    runs embed only new or changed passages.
    """
    web = WebSearch.from_settings(settings)
    index: CorpusIndex | None = None
    sources: list[str] = []
    reports: list[SyncReport] = []
    if settings.corpus_dir is not None or settings.use_wiki_corpus:
        index = await asyncio.to_thread(CorpusIndex, index_path(settings))
    try:
        if settings.corpus_dir is not None and index is not None:
            reports.append(await asyncio.to_thread(index.sync_folder, settings.corpus_dir))
            sources.append(folder_source(settings.corpus_dir))
        elif settings.use_wiki_corpus and index is not None:
            data = wiki_data_file()
            if data is not None:
                report = await asyncio.to_thread(index.sync_wiki, data)
                reports.append(report)
                sources.append(report.source)
        embedder = await asyncio.to_thread(_embedder, settings)
        embedding: EmbedReport | None = None
        if embedder is not None and index is not None and sources:
            notify = _throttled(progress, asyncio.get_running_loop()) if progress else None
            stop = threading.Event()
            try:
                embedding = await asyncio.to_thread(
                    embed_corpus,
                    index,
                    embedder,
                    sources,
                    notify,
                    settings.embed_budget if budget is None else budget,
                    stop,
                )
            except asyncio.CancelledError:
                stop.set()  # the worker thread finishes its chunk, then returns
                raise
        retriever = Retriever(index, sources, web, reports, embedder, embedding)
        if web is None and await retriever.document_count() == 0:
            raise ResearchError(
                "the corpus is empty: no readable documents were found"
                + (f" in {settings.corpus_dir}" if settings.corpus_dir else "")
            )
    except BaseException:
        if index is not None:
            index.close()
        raise
    return retriever
