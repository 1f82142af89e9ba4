"""Nearest-neighbour search over passage embeddings: exact for small corpora, HNSW for large.

Below :data:`EXACT_LIMIT` rows a query is one matrix product over the float16 rows (exact;
a few milliseconds on the 13k-passage wiki). Above it a faiss HNSW graph over float16 rows
answers in about a millisecond with recall@10 ≈ 0.95 at 1M passages (``bench/embeddings.py``,
figures and the choice of library in docs/benchmarks.md). The graph is saved next to the
corpus index and read back on the next start; passages added since are inserted, and removed
ones are skipped at query time until they exceed a tenth of the graph, which is then rebuilt
(HNSW graphs cannot delete).

Rows must be unit length, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

EXACT_LIMIT = 50_000
"""Up to this many rows, brute force (exact and fast enough); above, HNSW."""
CONNECTIVITY = 16
"""Neighbours per node (HNSW ``M``): recall against memory and build time."""
EXPANSION_ADD = 64
EXPANSION_SEARCH = 384
"""Search breadth: at 1M rows recall@10 0.867 at 96, 0.945 at 384 (0.6 ms), 0.948 at 768."""
STALE_SHARE = 0.1
"""Rebuild a saved graph when more than this share of its rows were removed since."""

Ids = NDArray[np.int64]
Scores = NDArray[np.float32]


class VectorIndex:
    """Ids and unit vectors, searchable by cosine similarity.

    ``ids`` are the caller's keys (passage ids), ascending; :meth:`search` returns them, best
    first.
    """

    def __init__(self, ids: Ids, vectors: NDArray[Any], *, graph: Any = None) -> None:
        self.ids = ids
        # exact search multiplies by every row: float32 uses BLAS, float16 would not (10x)
        self.vectors = vectors if graph is not None else np.asarray(vectors, np.float32)
        self._graph = graph

    def set_expansion(self, breadth: int) -> None:
        """HNSW search breadth (``efSearch``): more finds more true neighbours, more slowly."""
        if self._graph is not None:
            inner: Any = faiss.downcast_index(self._graph.index)
            inner.hnsw.efSearch = breadth

    @property
    def approximate(self) -> bool:
        return self._graph is not None

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, key: int) -> NDArray[np.float32] | None:
        """The stored row for ``key`` as float32 (None when absent)."""
        row = int(np.searchsorted(self.ids, key))
        if row >= len(self.ids) or self.ids[row] != key:
            return None
        return np.asarray(self.vectors[row], dtype=np.float32)

    def search(self, query: NDArray[np.float32], k: int) -> tuple[Ids, Scores]:
        """The ``k`` ids nearest to the unit vector ``query`` and their cosine similarities."""
        k = min(k, len(self.ids))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self._graph is None:
            scores = np.asarray(self.vectors @ query.astype(self.vectors.dtype), np.float32)
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            return self.ids[top], scores[top]
        # over-fetch: removed passages may still be in the graph. One thread: a single query
        # gains nothing from OpenMP, whose wake-ups cost milliseconds on a busy host.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            found, keys = self._graph.search(query.reshape(1, -1).astype(np.float32), 2 * k)
        finally:
            faiss.omp_set_num_threads(threads)
        keys, found = keys[0], found[0]
        live = (keys >= 0) & _contains(self.ids, keys)
        return keys[live][:k].astype(np.int64), found[live][:k].astype(np.float32)

    @classmethod
    def build(cls, ids: Ids, vectors: NDArray[Any], path: Path | None = None) -> VectorIndex:
        """An index over ``ids``/``vectors``; HNSW above :data:`EXACT_LIMIT` rows, saved at
        ``path`` and reused (updated with the difference) when it is there already."""
        if len(ids) <= EXACT_LIMIT:
            return cls(ids, vectors)
        graph: Any = None
        if path is not None and path.is_file():
            graph = faiss.read_index(str(path))
            have = faiss.vector_to_array(graph.id_map).astype(np.int64)
            new = ~_contains(np.sort(have), ids)
            removed = len(have) - (len(ids) - int(new.sum()))
            if removed > STALE_SHARE * len(have):
                graph = None
            elif new.any():
                graph.add_with_ids(np.asarray(vectors[new], np.float32), ids[new])
                _save(graph, path)
        if graph is None:
            graph = new_graph(vectors.shape[1])
            graph.train(np.asarray(vectors[:1000], np.float32))  # float16: a no-op in effect
            graph.add_with_ids(np.asarray(vectors, np.float32), ids)
            if path is not None:
                _save(graph, path)
        inner: Any = faiss.downcast_index(graph.index)
        inner.hnsw.efSearch = EXPANSION_SEARCH
        return cls(ids, vectors, graph=graph)


def new_graph(dim: int) -> Any:
    """An empty HNSW index (inner product, float16 rows) that keeps the caller's ids."""
    fp16: Any = faiss.ScalarQuantizer.QT_fp16
    hnsw = faiss.IndexHNSWSQ(dim, fp16, CONNECTIVITY, faiss.METRIC_INNER_PRODUCT)  # fmt: skip
    hnsw.hnsw.efConstruction = EXPANSION_ADD
    return faiss.IndexIDMap2(hnsw)


def _contains(sorted_ids: Ids, keys: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which ``keys`` are in ``sorted_ids`` (binary search: cheap for a few keys in 1M)."""
    at = np.minimum(np.searchsorted(sorted_ids, keys), max(len(sorted_ids) - 1, 0))
    return np.asarray(sorted_ids[at] == keys) if len(sorted_ids) else np.zeros(len(keys), bool)


def _save(graph: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    faiss.write_index(graph, str(tmp))
    tmp.replace(path)
