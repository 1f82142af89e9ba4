"""Embeddings benchmark: nearest-neighbour search at 1M passages, and real embedding speed.

    uv run python bench/embeddings.py                    # 1M synthetic rows + model figures
    uv run python bench/embeddings.py --rows 200000 --queries 200 --skip-model

**ANN** — ``--rows`` random unit vectors of 384 dimensions with cluster structure (``--clusters``
centres; each row is a centre plus noise, so neighbours are meaningful as with real
embeddings), no model needed. tk9's own :class:`tk9.research.vectors.VectorIndex` (faiss HNSW,
float16 rows) is built and saved as the corpus index would; reported: build time, RSS growth,
file size, query p50/p99 (one query at a time, as retrieval does) and recall@10 against exact
brute force over the same rows; brute-force query latency is reported too, to show why
large corpora need the graph.

**Model** — all-MiniLM-L6-v2 as tk9 runs it: cold start (building the ONNX graph from the
package's weights), warm start (loading the cached graph), and passages/s embedding real wiki
passages truncated to 64 and 128 word pieces, for the int8 and float32 graphs. The output is
markdown.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tk9.research.embedding import Embedder
from tk9.research.vectors import EXPANSION_SEARCH, VectorIndex


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def clustered(rows: int, dim: int, clusters: int, seed: int) -> NDArray[np.float32]:
    """Unit rows: a random centre each, plus noise of about the centre's size."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((rows, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        noise = rng.standard_normal((n, dim)).astype(np.float32) * (0.9 / np.sqrt(dim))
        block = centres[rng.integers(0, clusters, n)] + noise
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(vectors: NDArray[np.float16], queries: NDArray[np.float32], k: int) -> list[set[int]]:
    """The true ``k`` nearest rows of every query (float32 GEMM over blocks of rows)."""
    best = np.full((len(queries), k), -np.inf, np.float32)
    where = np.zeros((len(queries), k), np.int64)
    step = 100_000
    for start in range(0, len(vectors), step):
        scores = queries @ np.asarray(vectors[start : start + step], np.float32).T
        both = np.concatenate([best, scores], axis=1)
        ids = np.concatenate(
            [where, np.arange(start, start + scores.shape[1])[None, :].repeat(len(queries), 0)],
            axis=1,
        )
        top = np.argpartition(-both, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(both, top, 1)
        where = np.take_along_axis(ids, top, 1)
    return [set(row.tolist()) for row in where]


def bench_ann(rows: int, queries: int, clusters: int, k: int, breadths: list[int]) -> list[str]:
    t0 = time.perf_counter()
    data = clustered(rows + queries, 384, clusters, seed=7)
    base, probes = data[:rows].astype(np.float16), data[rows:]
    del data
    made = time.perf_counter() - t0
    ids = np.arange(rows, dtype=np.int64)
    before = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ann.faiss"
        t0 = time.perf_counter()
        index = VectorIndex.build(ids, base, path)
        build = time.perf_counter() - t0
        grown = rss_mb() - before
        size = path.stat().st_size / 2**20 if path.exists() else 0.0
        t0 = time.perf_counter()
        VectorIndex.build(ids, base, path)
        reload = time.perf_counter() - t0
    truth = exact_top(base, probes, k)
    sweep: list[tuple[int, NDArray[np.float64], float]] = []
    for breadth in breadths:
        index.set_expansion(breadth)
        latencies, recalls = [], []
        for q, want in zip(probes, truth, strict=True):
            t0 = time.perf_counter()
            got, _ = index.search(q, k)
            latencies.append(time.perf_counter() - t0)
            recalls.append(len(want & set(got.tolist())) / k)
        sweep.append((breadth, np.array(latencies) * 1000, float(np.mean(recalls))))
    exact = VectorIndex(ids, base)  # what corpora under EXACT_LIMIT rows use
    brute = []
    for q in probes[:20]:
        t0 = time.perf_counter()
        exact.search(q, k)
        brute.append(time.perf_counter() - t0)
    del exact
    kind = "faiss HNSW (fp16)" if index.approximate else "exact (numpy)"
    return [
        f"### ANN: {rows:,} synthetic rows × 384, {clusters} clusters, {queries} queries",
        "",
        "| measure | value |",
        "|---|---|",
        f"| index | {kind} |",
        f"| data generation | {made:.1f} s |",
        f"| build (and save) | {build:.1f} s |",
        f"| reopen saved graph | {reload:.1f} s |",
        f"| RSS growth while building | {grown:,.0f} MB |",
        f"| file on disk | {size:,.0f} MB |",
        *(
            f"| efSearch {b}: query p50 / p99, recall@{k} | {np.percentile(ms, 50):.2f} / "
            f"{np.percentile(ms, 99):.2f} ms, {r:.3f} |"
            for b, ms, r in sweep
        ),
        f"| exact search over the same rows, p50 | {np.median(brute) * 1000:.0f} ms |",
        "",
    ]


def wiki_passages(n: int) -> list[str]:
    from tk9.research.documents import wiki_data_file, wiki_documents
    from tk9.research.passages import embedding_text, split_passages

    data = wiki_data_file()
    if data is None:
        return [
            f"Sentence {i} about volcanoes, tides and the history of Rome." * 8 for i in range(n)
        ]
    out: list[str] = []
    for doc in wiki_documents(data):
        out.extend(embedding_text(doc.title, p) for p in split_passages(doc.body))
        if len(out) >= n:
            break
    return out[:n]


def bench_model(passages: int) -> list[str]:
    texts = wiki_passages(passages)
    lines = [
        f"### Model: all-MiniLM-L6-v2 via onnxruntime, {len(texts)} wiki passages",
        "",
        "| graph | cold start (build) | warm start | passages/s ≤64 tokens | ≤128 tokens |",
        "|---|---|---|---|---|",
    ]
    for quantize in (True, False):
        models = Path(tempfile.mkdtemp())
        try:
            t0 = time.perf_counter()
            Embedder(models, quantize=quantize)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            warm_model = Embedder(models, quantize=quantize)
            warm = time.perf_counter() - t0
            speeds = []
            for tokens in (64, 128):
                embedder = Embedder(models, quantize=quantize, max_tokens=tokens)
                t0 = time.perf_counter()
                embedder.embed(texts, cache=False)
                speeds.append(len(texts) / (time.perf_counter() - t0))
            del warm_model
        finally:
            shutil.rmtree(models, ignore_errors=True)
        name = "int8 (per-channel weights)" if quantize else "float32"
        lines.append(
            f"| {name} | {cold:.1f} s | {warm:.1f} s | {speeds[0]:.0f} | {speeds[1]:.0f} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ef", type=int, nargs="+", default=[EXPANSION_SEARCH, 192, 384])
    parser.add_argument("--passages", type=int, default=512)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-ann", action="store_true")
    args = parser.parse_args()
    out: list[str] = []
    if not args.skip_model:
        out += bench_model(args.passages)
        print("\n".join(out), flush=True)
    if not args.skip_ann:
        ann = bench_ann(args.rows, args.queries, args.clusters, args.k, args.ef)
        print("\n".join(ann), flush=True)


if __name__ == "__main__":
    main()
