"""``namesmith export MODEL --onnx FILE``: the network's single step as an ONNX graph (opset 17).

For engines that run ONNX (Unity's inference engine, ONNX Runtime in C#, C++ or on
phones). The graph is one step of the recurrent network, batched::

    inputs   ids (B,) int64          the previous symbol (0 = the start symbol first)
             h0, c0, h1, ... (B, H)  float32: each layer's state (c only for an LSTM), zeros at the start
             style (B,) int64        only for a styled network: a style id, or S for "any style"
    outputs  logits (B, V) float32   next-symbol scores: softmax(logits) is P(next | history)
             h0_out, c0_out, ...     the new states, in the inputs' order

with the step equations of ``docs/export-format.md``. Sampling, the constraints and
the n-gram part of a mixture stay in the host language: the model's metadata
(``metadata_props``) holds the vocabulary, the style names and, for a mixture, the
network's weight and a note that the n-gram tables are in the ``--json`` export.
Built with the ``onnx`` package (``pip install onnx``); checked against NumPy with
``onnxruntime`` in the tests.
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
from .models.recurrent import RecurrentLM

OPSET = 17


def network_of(model: Model) -> tuple[RecurrentLM, float | None]:
    """The recurrent network of a model (itself, or a mixture's one network part) and its mixture weight."""
    if isinstance(model, RecurrentLM):
        return model, None
    nets = [(p, float(w)) for p, w in zip(getattr(model, "parts", []), np.exp(getattr(model, "_logw", [])))
            if isinstance(p, RecurrentLM)] if model.kind == "mixture" else []
    if len(nets) != 1:
        what = "an n-gram has no network" if model.kind.startswith("ngram") else f"a {model.kind} model"
        raise ExportError(f"{what} cannot be exported as ONNX; --onnx supports rnn, gru and lstm networks and "
                          "mixtures with one of them (--json exports every family)")
    return nets[0]


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


def _cell(g: Graph, kind: str, x: str, state: list[str], p: dict, l: int, H: int) -> list[str]:
    """One layer's step: the new state names (h first). ``p`` holds the layer's arrays (``Wh``, ``bn``)."""
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


def build_graph(net: RecurrentLM, meta: dict):
    """The ONNX model of one step of ``net`` (see the module docstring)."""
    from onnx import TensorProto, helper

    g, cfg = Graph(), net.config
    V, H, L, S = cfg["vocab_size"], cfg["hidden"], cfg["layers"], cfg["styles"]
    names = net.cell.state_names
    states = [f"{n[0]}{l}" for l in range(L) for n in names]
    inputs = [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B"])]
    inputs += [helper.make_tensor_value_info(s, TensorProto.FLOAT, ["B", H]) for s in states]
    x = g.op("Gather", g.const("input_table", _input_table(net)), "ids", axis=0)  # (B, G)
    if S:
        inputs.append(helper.make_tensor_value_info("style", TensorProto.INT64, ["B"]))
        x = g.op("Add", x, g.op("Gather", g.const("Sg", net.params["Sg"].astype(np.float32)), "style", axis=0))
    outs, h = [], None
    for l in range(L):
        p = {"Wh": net.params[net._key(net.cell.Wh, l)], "bn": net.params.get(net._key("bn", l))}
        if l:
            x = g.op("Add", g.op("MatMul", h, g.const(f"WxT_{l}", net.params[net._key(net.cell.Wx, l)].T.astype(
                np.float32))), g.const(f"b_{l}", net.params[net._key(net.cell.b, l)][:, 0].astype(np.float32)))
        new = _cell(g, net.kind, x, states[l * len(names): (l + 1) * len(names)], p, l, H)
        outs += [g.op("Identity", s, out=f"{states[l * len(names) + i]}_out") for i, s in enumerate(new)]
        h = new[0]
    logits = g.op("Add", g.op("MatMul", h, g.const("WyaT", net.params["Wya"].T.astype(np.float32))),
                  g.const("by", net.params["by"][:, 0].astype(np.float32)))
    if S:
        logits = g.op("Add", logits, g.op("Gather", g.const("Sy", net.params["Sy"].astype(np.float32)), "style",
                                          axis=0))
    g.op("Identity", logits, out="logits")
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", V])]
    outputs += [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["B", H]) for o in outs]
    graph = helper.make_graph(g.nodes, f"namesmith_{net.kind}_step", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="namesmith")
    model.ir_version = 8  # readable by ONNX Runtime 1.10 and later
    helper.set_model_props(model, {k: json.dumps(v, ensure_ascii=False) for k, v in meta.items()})
    return model


def onnx_model(ck: Checkpoint):
    if not isinstance(ck, Checkpoint):
        raise ConfigError(f"export needs a namesmith Checkpoint, got {type(ck).__name__}")
    net, weight = network_of(ck.model)
    try:
        import onnx  # noqa: F401  (the onnx package is optional)
    except ImportError:
        raise ExportError("--onnx needs the onnx package: pip install onnx") from None
    meta = {"vocab": list(ck.vocab.chars), "styles": list(ck.styles), "family": net.kind,
            "mixture_weight": weight, "opset": OPSET,
            "note": "the rest of a mixture (its n-gram) and the sampling loop: see the --json export"}
    model = build_graph(net, meta)
    import onnx.checker

    onnx.checker.check_model(model)
    return model


PRODUCER = b"\x12\x09namesmith"  # field 2 (producer_name) of the ModelProto, right after the IR version


def write_onnx(ck: Checkpoint, out: str | Path, sources: Sequence[str | Path] = ()) -> Path:
    """``--onnx FILE``: the step graph, written atomically; never over an input or a file it did not write."""
    target = export_target(out, sources, "ONNX", lambda head: PRODUCER in head[:16], "model.onnx")
    _write_bytes(target, onnx_model(ck).SerializeToString())
    return target
