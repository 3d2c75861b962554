"""``namesmith export MODEL --onnx FILE``: the network's single step as an ONNX graph (opset 17).

For engines that run ONNX (Unity's inference engine, ONNX Runtime in C#, C++ or on
phones). The graph is one step of the recurrent network, batched::

    inputs   ids (B,) int64          the previous symbol (0 = the start symbol first)
             h0, c0, h1, ... (B, H)  float32: each layer's state (c only for an LSTM), zeros at the start
             style (B,) int64        only for a styled network: a style id, or S for "any style"
    outputs  logits (B, V) float32   next-symbol scores: softmax(logits) is P(next | history)
             h0_out, c0_out, ...     the new states, in the inputs' order

with the step equations of ``docs/export-format.md``. A model of several networks
(``--ensemble``, a fine-tuned model's folds) is one graph: network k's states are
``nK_h0, nK_c0, ...`` and ``logits`` is ``log sum_k (w_k / W) softmax(logits_k)``,
the networks' own mixture (W = sum_k w_k, per style when the mixture has per-style
weights). Sampling, the constraints and the n-gram part of a mixture stay in the
host language: the model's metadata (``metadata_props``) holds the vocabulary, the
style names and, for a mixture, the networks' weight W (``mixture_weight``, and
``style_mixture_weights``), with a note that the n-gram tables are in the ``--json``
export. Built with the ``onnx`` package (``pip install onnx``); checked against
NumPy with ``onnxruntime`` in the tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .api import Checkpoint
from .errors import ConfigError
from .export import ExportError, _write_bytes, export_target
from .models import Model
from .models.conditional import collapsed
from .models.recurrent import RecurrentLM

OPSET = 17


def networks_of(model: Model) -> tuple[list[RecurrentLM], np.ndarray | None]:
    """The recurrent networks of a model (itself, or a mixture's network parts: several for an averaged or
    fine-tuned model) and their mixture weights, one row per style then the pooled row ((S + 1, K), or
    None for a lone network)."""
    if isinstance(model, RecurrentLM):
        return [collapsed(model)], None  # further factors (kind, sex) at "any": the graph takes the style alone
    keep = [i for i, p in enumerate(getattr(model, "parts", [])) if isinstance(p, RecurrentLM)]
    if model.kind != "mixture" or not keep or not all(
            isinstance(p, RecurrentLM) or p.kind.startswith("ngram") for p in model.parts):
        what = "an n-gram has no network" if model.kind.startswith("ngram") else f"a {model.kind} model"
        raise ExportError(f"{what} cannot be exported as ONNX; --onnx supports rnn, gru and lstm networks and "
                          "mixtures of them with n-grams (--json exports every family)")
    pooled = np.exp(model._logw)[None]  # (1, C)
    table = pooled if model._style_logw is None else np.vstack([np.exp(model._style_logw), pooled])
    if table.shape[1] != len(model.parts):
        raise ExportError("this mixture's per-style weights do not match its parts; it cannot be exported as ONNX")
    return [collapsed(model.parts[i]) for i in keep], table[:, keep]


class Graph:
    """The nodes and initializers of one ONNX graph, with fresh names."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, outputs: int = 1, out: str | list[str] | None = None, **attrs):
        names = [out] if isinstance(out, str) else out or [f"t{self.count + i}" for i in range(outputs)]
        self.count += len(names)
        self.nodes.append(self.helper.make_node(kind, list(inputs), names, **attrs))
        return names[0] if len(names) == 1 else names


def _input_table(net: RecurrentLM) -> np.ndarray:
    return np.asarray(net._input_table(), dtype=np.float32)  # (V, G): layer 0's input projection + bias per id


def _cell(g: Graph, kind: str, x: str, state: list[str], p: dict, l: str, H: int) -> list[str]:
    """One layer's step: the new state names (h first). ``p`` holds the layer's arrays (``Wh``, ``bn``);
    ``l`` names its constants."""
    gh = g.op("MatMul", state[0], g.const(f"WhT_{l}", p["Wh"].T.astype(np.float32)))
    if kind == "rnn":
        return [g.op("Tanh", g.op("Add", x, gh))]
    if kind == "lstm":
        i, f, c, o = g.op("Split", g.op("Add", x, gh), g.const(f"split4_{l}", np.array([H] * 4, np.int64)),
                          axis=1, outputs=4)
        i, f, o, c = g.op("Sigmoid", i), g.op("Sigmoid", f), g.op("Sigmoid", o), g.op("Tanh", c)
        c_new = g.op("Add", g.op("Mul", f, state[1]), g.op("Mul", i, c))
        return [g.op("Mul", o, g.op("Tanh", c_new)), c_new]
    split = g.const(f"split3_{l}", np.array([H] * 3, np.int64))
    xr, xz, xn = g.op("Split", x, split, axis=1, outputs=3)
    hr, hz, hn = g.op("Split", gh, split, axis=1, outputs=3)
    r, z = g.op("Sigmoid", g.op("Add", xr, hr)), g.op("Sigmoid", g.op("Add", xz, hz))
    n = g.op("Tanh", g.op("Add", xn, g.op("Mul", r, g.op("Add", hn, g.const(f"bn_{l}", p["bn"][:, 0].astype(
        np.float32))))))
    return [g.op("Add", n, g.op("Mul", z, g.op("Sub", state[0], n)))]  # (1 - z) n + z h_prev


def _network(g: Graph, net: RecurrentLM, pre: str, inputs: list, outputs: list) -> str:
    """One network's step into ``g``: its state inputs and outputs (names prefixed by ``pre``) appended to
    ``inputs`` and ``outputs``; returns the name of its logits (B, V)."""
    from onnx import TensorProto, helper

    cfg = net.config
    H, L, S = cfg["hidden"], cfg["layers"], cfg["styles"]
    names = net.cell.state_names
    states = [f"{pre}{n[0]}{l}" for l in range(L) for n in names]
    inputs += [helper.make_tensor_value_info(s, TensorProto.FLOAT, ["B", H]) for s in states]
    x = g.op("Gather", g.const(f"{pre}input_table", _input_table(net)), "ids", axis=0)  # (B, G)
    if S:
        x = g.op("Add", x, g.op("Gather", g.const(f"{pre}Sg", net.params["Sg"].astype(np.float32)), "style", axis=0))
    h = None
    for l in range(L):
        p = {"Wh": net.params[net._key(net.cell.Wh, l)], "bn": net.params.get(net._key("bn", l))}
        if l:
            x = g.op("Add", g.op("MatMul", h, g.const(f"{pre}WxT_{l}", net.params[net._key(net.cell.Wx, l)].T.astype(
                np.float32))), g.const(f"{pre}b_{l}", net.params[net._key(net.cell.b, l)][:, 0].astype(np.float32)))
        new = _cell(g, net.kind, x, states[l * len(names): (l + 1) * len(names)], p, f"{pre}{l}", H)
        for i, s in enumerate(new):
            out = f"{states[l * len(names) + i]}_out"
            g.op("Identity", s, out=out)
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, ["B", H]))
        h = new[0]
    logits = g.op("Add", g.op("MatMul", h, g.const(f"{pre}WyaT", net.params["Wya"].T.astype(np.float32))),
                  g.const(f"{pre}by", net.params["by"][:, 0].astype(np.float32)))
    if S:
        logits = g.op("Add", logits, g.op("Gather", g.const(f"{pre}Sy", net.params["Sy"].astype(np.float32)),
                                          "style", axis=0))
    return logits


def _average(g: Graph, logits: list[str], weights: np.ndarray) -> str:
    """``log sum_k (w_k / W) softmax(logits_k)``: the networks' mixture, as log-probabilities (B, V);
    ``weights`` (S + 1, K) (a style's row by the ``style`` input) or (1, K)."""
    rows = np.log(weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)  # (R, K)
    stack = g.op("Concat", *[g.op("Unsqueeze", g.op("LogSoftmax", z, axis=1), g.const(f"ax0_{k}", np.array(
        [0], np.int64))) for k, z in enumerate(logits)], axis=0)  # (K, B, V)
    if len(rows) == 1:
        logw = g.const("net_logw", rows[0].reshape(-1, 1, 1))  # (K, 1, 1)
    else:
        per_row = g.op("Gather", g.const("net_logw", rows), "style", axis=0)  # (B, K)
        logw = g.op("Unsqueeze", g.op("Transpose", per_row, perm=[1, 0]), g.const("ax2", np.array([2], np.int64)))
    return g.op("ReduceLogSumExp", g.op("Add", stack, logw), axes=[0], keepdims=0)


def build_graph(nets: list[RecurrentLM], meta: dict, weights: np.ndarray | None = None):
    """The ONNX model of one step of ``nets`` (see the module docstring); several networks are averaged with
    ``weights`` (:func:`networks_of`), a lone network gives its raw logits."""
    from onnx import TensorProto, helper

    nets = [nets] if isinstance(nets, RecurrentLM) else list(nets)
    g, V, S = Graph(), nets[0].config["vocab_size"], nets[0].config["styles"]
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", V])]
    logits = [_network(g, net, f"n{k}_" if len(nets) > 1 else "", inputs, outputs) for k, net in enumerate(nets)]
    if S:
        inputs.append(helper.make_tensor_value_info("style", TensorProto.INT64, ["B"]))
    g.op("Identity", logits[0] if len(nets) == 1 else _average(g, logits, weights), out="logits")
    kinds = "+".join(sorted({n.kind for n in nets}))
    graph = helper.make_graph(g.nodes, f"namesmith_{kinds}_step", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="namesmith")
    model.ir_version = 8  # readable by ONNX Runtime 1.10 and later
    helper.set_model_props(model, {k: json.dumps(v, ensure_ascii=False) for k, v in meta.items()})
    return model


def onnx_model(ck: Checkpoint):
    if not isinstance(ck, Checkpoint):
        raise ConfigError(f"export needs a namesmith Checkpoint, got {type(ck).__name__}")
    nets, weights = networks_of(ck.model)
    try:
        import onnx  # noqa: F401  (the onnx package is optional)
    except ImportError:
        raise ExportError("--onnx needs the onnx package: pip install onnx") from None
    share = None if weights is None else weights.sum(axis=1)  # the networks' weight W, per style then pooled
    meta = {"vocab": list(ck.vocab.chars), "styles": list(ck.styles), "family": nets[0].kind, "networks": len(nets),
            "mixture_weight": None if share is None else float(share[-1]),
            "style_mixture_weights": None if share is None or len(share) == 1 else [float(w) for w in share[:-1]],
            "opset": OPSET,
            "note": "the rest of a mixture (its n-grams) and the sampling loop: see the --json export"}
    model = build_graph(nets, meta, weights)
    import onnx.checker

    onnx.checker.check_model(model)
    return model


PRODUCER = b"\x12\x09namesmith"  # field 2 (producer_name) of the ModelProto, right after the IR version


def write_onnx(ck: Checkpoint, out: str | Path, sources: Sequence[str | Path] = ()) -> Path:
    """``--onnx FILE``: the step graph, written atomically; never over an input or a file it did not write."""
    target = export_target(out, sources, "ONNX", lambda head: PRODUCER in head[:16], "model.onnx")
    _write_bytes(target, onnx_model(ck).SerializeToString())
    return target
