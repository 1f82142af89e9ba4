"""Passages, their cached embeddings, incremental re-embedding and hybrid search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tk9.research import passages
from tk9.research.corpus import SCHEMA_VERSION, CorpusIndex, folder_source
from tk9.research.embedding import Embedder, shared_embedder
from tk9.research.hybrid import embed_corpus, fuse, search_passages
from tk9.research.retrieval import Retriever, open_retriever
from tk9.research.text import stem
from tk9.settings import Settings

CORAL = """# Coral bleaching

Coral bleaching happens when corals under stress expel the symbiotic algae that live in their
tissues and give them colour. Warm sea water during marine heatwaves is the main cause of mass
bleaching on reefs such as the Great Barrier Reef.
"""
BLEACH = """# Bleach

Bleach is the generic name for household chemicals such as sodium hypochlorite used to whiten
laundry and to disinfect surfaces in the kitchen and the bathroom.
"""
TIDE = """# Tide

Tides are the rise and fall of sea levels caused by the gravity of the Moon and the Sun.
"""


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return shared_embedder(tmp_path_factory.mktemp("data") / "models")


class Counting:
    """An embedder wrapper that records every text embedded."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.texts: list[str] = []

    def embed(self, texts: list[str], **kwargs: Any) -> NDArray[np.float32]:
        self.texts.extend(texts)
        return self.inner.embed(texts, **kwargs)


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_snowball_stems_keep_names_apart() -> None:
    assert stem("romeo") != stem("rome")
    assert stem("coral") != stem("core")
    assert stem("tides") == stem("tide")
    assert stem("volcanoes") == stem("volcano")


def test_passages_are_whole_sentences_under_the_limit() -> None:
    body = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    parts = passages.split_passages(body, limit=30)
    assert all(len(p.split()) <= 30 for p in parts)
    assert " ".join(parts) == body
    assert passages.split_passages("") == []
    huge = "word " * 1000
    assert all(len(p.split()) <= 90 for p in passages.split_passages(huge))


def test_fuse_rewards_agreement() -> None:
    scores = fuse([1, 2, 3], [3, 4])
    assert max(scores, key=lambda k: scores[k]) == 3


def test_incremental_update_re_embeds_only_the_changed_file(
    embedder: Embedder, tmp_path: Path
) -> None:
    root = _write(tmp_path / "c", {"coral.md": CORAL, "bleach.md": BLEACH})
    counting = Counting(embedder)
    index = CorpusIndex(tmp_path / "index.sqlite3")
    try:
        sources = [folder_source(root)]
        index.sync_folder(root)
        seen: list[tuple[int, int]] = []
        assert (
            embed_corpus(index, counting, sources, lambda d, t: seen.append((d, t))).embedded == 2
        )  # type: ignore[arg-type]
        assert seen[0] == (0, 2) and seen[-1] == (2, 2)
        assert embed_corpus(index, counting, sources, None).embedded == 0  # type: ignore[arg-type]

        (root / "tide.md").write_text(TIDE)  # added
        index.sync_folder(root)
        counting.texts.clear()
        assert embed_corpus(index, counting, sources, None).embedded == 1  # type: ignore[arg-type]
        assert counting.texts == ["Tide: " + " ".join(TIDE.split("\n", 2)[2].split())]

        (root / "bleach.md").write_text(BLEACH.replace("kitchen", "laundry room"))  # changed
        index.sync_folder(root)
        counting.texts.clear()
        embed_corpus(index, counting, sources, None)  # type: ignore[arg-type]
        assert len(counting.texts) == 1 and "laundry room" in counting.texts[0]

        (root / "coral.md").unlink()  # removed: its embedding is collected
        index.sync_folder(root)
        with index.lock:
            stored = index.db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        assert stored == 2
        hits = search_passages(index, embedder, "coral reef bleaching", sources, 5)
        assert all(h.document.title != "Coral bleaching" for h in hits)
    finally:
        index.close()


def test_a_time_budget_leaves_the_rest_pending(embedder: Embedder, tmp_path: Path) -> None:
    root = _write(tmp_path / "c", {"coral.md": CORAL, "bleach.md": BLEACH})
    index = CorpusIndex(tmp_path / "index.sqlite3")
    try:
        index.sync_folder(root)
        sources = [folder_source(root)]
        assert embed_corpus(index, embedder, sources, None, budget=-1.0).pending == 2
        done = embed_corpus(index, embedder, sources, None, budget=60.0)
        assert (done.embedded, done.pending) == (2, 0)
    finally:
        index.close()


def test_embeddings_are_reused_by_another_index_instance(
    embedder: Embedder, tmp_path: Path
) -> None:
    root = _write(tmp_path / "c", {"coral.md": CORAL, "bleach.md": BLEACH})
    first = CorpusIndex(tmp_path / "index.sqlite3")
    first.sync_folder(root)
    embed_corpus(first, embedder, [folder_source(root)], None)
    first.close()
    second = CorpusIndex(tmp_path / "index.sqlite3")
    try:
        counting = Counting(embedder)
        assert second.sync_folder(root).unchanged == 2
        assert embed_corpus(second, counting, [folder_source(root)], None).embedded == 0  # type: ignore[arg-type]
    finally:
        second.close()


def test_an_old_schema_is_rebuilt_but_embeddings_kept(embedder: Embedder, tmp_path: Path) -> None:
    root = _write(tmp_path / "c", {"coral.md": CORAL})
    index = CorpusIndex(tmp_path / "index.sqlite3")
    index.sync_folder(root)
    embed_corpus(index, embedder, [folder_source(root)], None)
    index.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    index.close()
    again = CorpusIndex(tmp_path / "index.sqlite3")
    try:
        assert again.count([folder_source(root)]) == 0
        assert again.sync_folder(root).added == 1
        assert embed_corpus(again, Counting(embedder), [folder_source(root)], None).embedded == 0  # type: ignore[arg-type]
    finally:
        again.close()


async def test_hybrid_search_prefers_meaning_over_a_shared_word(
    embedder: Embedder, tmp_path: Path
) -> None:
    root = _write(tmp_path / "c", {"coral.md": CORAL, "bleach.md": BLEACH, "tide.md": TIDE})
    index = CorpusIndex(tmp_path / "index.sqlite3")
    index.sync_folder(root)
    sources = [folder_source(root)]
    embed_corpus(index, embedder, sources, None)
    retriever = Retriever(index, sources, embedder=embedder)
    try:
        hits = await retriever.passages("Coral reef bleaching", 3)
        assert hits[0].document.title == "Coral bleaching"
        assert hits[0].lexical is not None and hits[0].dense is not None
        assert hits[0].vector is not None and hits[0].vector.shape == (384,)
        bleach = next(h for h in hits if h.document.title == "Bleach")
        assert bleach.dense is not None and bleach.dense < hits[0].dense
        # no shared word at all: only meaning finds the tide article
        tidal = await retriever.passages("tidal power from the oceans", 1)
        assert tidal[0].document.title == "Tide" and tidal[0].lexical is None
        excluded = await retriever.passages(
            "Coral reef bleaching", 3, exclude=[hits[0].document.uri]
        )
        assert all(h.document.uri != hits[0].document.uri for h in excluded)
        assert await retriever.passages("", 3) == []
        legacy = await retriever.search("coral bleaching", 5)
        assert legacy[0].title == "Coral bleaching"
    finally:
        retriever.close()


async def test_open_retriever_reports_embedding_progress(
    embedder: Embedder, settings: Settings
) -> None:
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    retriever = await open_retriever(settings, progress)
    try:
        assert retriever.embedder is not None and retriever.embedding is not None
        total = retriever.embedding.embedded
        assert total > 0 and retriever.embedding.pending == 0
        assert seen[0] == (0, total) and seen[-1] == (total, total)
        hits = await retriever.passages("how plants turn light into sugar", 3)
        assert hits and all(h.dense is not None for h in hits)
    finally:
        retriever.close()
    again = await open_retriever(settings, progress)
    try:
        assert again.embedding is not None and again.embedding.embedded == 0
    finally:
        again.close()


def test_a_passage_not_yet_embedded_is_not_outranked_for_lacking_a_vector(
    embedder: Embedder, tmp_path: Path
) -> None:
    root = _write(tmp_path / "c", {"coral.md": CORAL, "bleach.md": BLEACH, "tide.md": TIDE})
    index = CorpusIndex(tmp_path / "index.sqlite3")
    try:
        index.sync_folder(root)
        sources = [folder_source(root)]
        embed_corpus(index, embedder, sources, None)
        with index.lock, index.write():  # as if the budget ran out before the coral article
            index.db.execute(
                "DELETE FROM embeddings WHERE hash IN (SELECT p.hash FROM passages p "
                "JOIN documents d ON d.id = p.doc_id WHERE d.title = 'Coral bleaching')"
            )
            index.db.execute("UPDATE state SET value = value + 1 WHERE key = 'generation'")
        hits = search_passages(index, embedder, "coral bleaching", sources, 3)
        assert hits[0].document.title == "Coral bleaching" and hits[0].vector is None
    finally:
        index.close()
