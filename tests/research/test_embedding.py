"""The sentence-embedding model: the ONNX graph against a numpy reference, meaning, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from tk9.research.bert_onnx import reference_forward
from tk9.research.embedding import DIM, Embedder, load_weights, model_zip, pool, shared_embedder
from tk9.research.retrieval import Retriever


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """One model for the whole session (building the graph takes seconds)."""
    return shared_embedder(tmp_path_factory.mktemp("data") / "models")


def test_onnx_graph_matches_a_numpy_forward_pass(embedder: Embedder) -> None:
    import zipfile

    texts = ["Coral reefs bleach when the sea is too warm.", "Rome", "The economy of ancient Rome"]
    with zipfile.ZipFile(model_zip()) as z:
        tokenizer = Tokenizer.from_str(z.read("tokenizer.json").decode())
    tokenizer.no_padding()
    encodings = [tokenizer.encode(t) for t in texts]
    expected = []
    for enc in encodings:
        ids = np.array([enc.ids], dtype=np.int64)
        mask = np.ones_like(ids)
        expected.append(pool(reference_forward(load_weights(model_zip()), ids, mask), mask)[0])
    got = embedder.embed(texts)
    for row, want in zip(got, expected, strict=True):
        assert float(row @ want) >= 0.985  # int8 weights: ~0.99


def test_rows_are_unit_length_float32(embedder: Embedder) -> None:
    rows = embedder.embed(["one", "two words", "a longer sentence about volcanoes of Japan"])
    assert rows.shape == (3, DIM) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)


def test_meaning_separates_coral_bleaching_from_household_bleach(embedder: Embedder) -> None:
    subject, coral, bleach = embedder.embed(
        [
            "Coral reef bleaching",
            "Corals expel the algae living in their tissues when the ocean is too warm.",
            "Household bleach is a solution of sodium hypochlorite used to whiten laundry.",
        ]
    )
    assert float(subject @ coral) > float(subject @ bleach)


def test_empty_and_huge_texts_embed(embedder: Embedder) -> None:
    huge = "volcano " * 50_000
    rows = embedder.embed(["", huge, "   "], cache=False)
    assert rows.shape == (3, DIM)
    assert np.all(np.isfinite(rows))
    assert embedder.tokens(huge) > embedder.max_tokens
    assert embedder.embed([]).shape == (0, DIM)


def test_cached_rows_equal_fresh_ones(embedder: Embedder) -> None:
    first = embedder.embed(["Volcanoes of Japan", "Mount Fuji"])
    again = embedder.embed(["Mount Fuji", "Volcanoes of Japan"])
    assert np.allclose(first[::-1], again)


def test_progress_reports_every_batch(embedder: Embedder) -> None:
    seen: list[tuple[int, int]] = []
    embedder.embed(
        [f"text {i}" for i in range(10)],
        batch_size=4,
        progress=lambda d, t: seen.append((d, t)),
        cache=False,
    )
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_the_built_graph_is_reused_from_the_models_dir(embedder: Embedder, tmp_path: Path) -> None:
    models = tmp_path / "models"
    Embedder(models)
    (built,) = list(models.glob("*.onnx"))
    stamp = built.stat().st_mtime_ns
    again = Embedder(models)
    assert built.stat().st_mtime_ns == stamp and again.model_id == embedder.model_id


async def test_retriever_embed(embedder: Embedder) -> None:
    retriever = Retriever(None, [], embedder=embedder)
    rows = await retriever.embed(["Roman Empire", "Rome"])
    assert rows.shape == (2, DIM)
    assert (await retriever.embed([])).shape == (0, DIM)
