"""The nearest-neighbour index agrees with brute force, and its saved graph is reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tk9.research import vectors
from tk9.research.vectors import VectorIndex


def _unit(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, 32)).astype(np.float32)
    x = centres[rng.integers(0, 20, rows)] + 0.3 * rng.standard_normal((rows, 32)).astype(
        np.float32
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_returns_ids_best_first() -> None:
    x = _unit(100, 1)
    ids = np.arange(1000, 1100, dtype=np.int64)
    index = VectorIndex(ids, x.astype(np.float16))
    got, scores = index.search(x[7], 5)
    assert got[0] == 1007 and scores[0] == pytest.approx(1.0, abs=1e-2)
    assert list(scores) == sorted(scores, reverse=True)
    assert index.vector(1007) is not None and index.vector(5) is None
    assert VectorIndex(np.zeros(0, np.int64), np.zeros((0, 32))).search(x[0], 5)[0].size == 0


def test_hnsw_agrees_with_brute_force_and_is_updated_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "EXACT_LIMIT", 100)
    x = _unit(3000, 2)
    ids = np.arange(3000, dtype=np.int64) * 2
    path = tmp_path / "ann.faiss"
    ann = VectorIndex.build(ids, x.astype(np.float16), path)
    exact = VectorIndex(ids, x.astype(np.float16))
    assert ann.approximate and path.is_file()
    recall = []
    for q in x[:50]:
        want = set(exact.search(q, 10)[0].tolist())
        recall.append(len(want & set(ann.search(q, 10)[0].tolist())) / 10)
    assert np.mean(recall) >= 0.95

    # remove the first 100 rows, add 50 new ones: the saved graph is updated, not rebuilt
    new = _unit(50, 3)
    ids2 = np.concatenate([ids[100:], np.arange(10_000, 10_050, dtype=np.int64)])
    x2 = np.concatenate([x[100:], new])
    again = VectorIndex.build(ids2, x2.astype(np.float16), path)
    hit, _ = again.search(new[0], 3)
    assert hit[0] == 10_000
    assert not set(again.search(x[0], 10)[0].tolist()) & set(ids[:100].tolist())
