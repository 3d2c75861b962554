"""A multilayer perceptron over a fixed window of characters (Bengio et al. 2003; makemore's MLP).

Shape legend: B batch, T time, V vocabulary, D embedding (``embed``), k window
(``block``), H hidden units (``hidden``), L hidden layers (``layers``), N = B*T.

Equations with the code's names (row form)::

    w<t>   = (X<t-k+1>, ..., X<t>)            the last k inputs; before the start, the start id 0
    e<t>   = concat(E[w<t>])                  (N, k*D)
    h1     = tanh(e W1^T + b1^T (+ Sg[s]))    (N, H)     (dropout)
    hl     = tanh(h(l-1) W1_l^T + b1_l^T)     (N, H)     for l = 1 .. L-1 (dropout)
    logits = hL Wya^T + by^T (+ Sy[s])        (N, V)

The window holds the start token and the characters so far, padded with start
ids, so a name shorter than k sees all of itself (makemore pads the same way).
The state for generation is the window itself, ``(B, k)`` ids.

Styles (``styles = S > 0``, see ``conditional.py``): ``Sg (S+1, H)`` is added to
the first hidden layer's pre-activation and ``Sy (S+1, V)`` to the logits.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import DTYPES, Cache, Params, State, StepFn, TrainableModel, int_option
from .conditional import Conditional, style_bias, style_rows, style_rows_backward, table_rows
from .layers import (
    dropout_backward,
    dropout_forward,
    linear_backward,
    linear_forward,
    lookup_backward,
    softmax_xent_backward,
    softmax_xent_forward,
)


def windows(X: np.ndarray, k: int, before: np.ndarray | None = None) -> np.ndarray:
    """``(B, T, k)``: row b, position t holds ``X[b, t-k+1 .. t]``; ``before (B, k)`` precedes X (default 0s)."""
    B, T = X.shape
    before = np.zeros((B, k), dtype=X.dtype) if before is None else before.astype(X.dtype)
    Xp = np.concatenate([before[:, 1:], X], axis=1)  # (B, T+k-1)
    return np.stack([Xp[:, j : j + T] for j in range(k)], axis=-1)  # (B, T, k)


class MLP(Conditional, TrainableModel):
    """Bengio-style MLP language model (see the module docstring)."""

    kind = "mlp"
    defaults: ClassVar[dict[str, Any]] = {
        "embed": 32, "hidden": 256, "layers": 1, "block": 8, "dropout": 0.0, "styles": 0, "factors": None,
        "style_dropout": 0.0,
    }

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        out["embed"] = int_option(out, "embed", 1, 8192)
        out["hidden"] = int_option(out, "hidden", 1, 32768)
        out["layers"] = int_option(out, "layers", 1, 16)
        out["block"] = int_option(out, "block", 1, 256)
        return out

    @staticmethod
    def _key(l: int) -> tuple[str, str]:
        return ("W1", "b1") if l == 0 else (f"W1_{l}", f"b1_{l}")

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        V, D, H, k = config["vocab_size"], config["embed"], config["hidden"], config["block"]
        shapes: dict[str, tuple[int, ...]] = {"E": (V, D)}
        for l in range(config["layers"]):
            W, b = cls._key(l)
            shapes[W], shapes[b] = (H, k * D if l == 0 else H), (H, 1)
        shapes.update({"Wya": (V, H), "by": (V, 1)})
        if config["styles"]:
            shapes["Sg"] = (table_rows(config), H)
            shapes["Sy"] = (table_rows(config), V)
        return shapes

    @classmethod
    def create(cls, config: dict, rng: np.random.Generator) -> "MLP":
        """Embedding N(0, 1); weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's); biases and style tables 0."""
        config = cls.check_config(config)
        dtype = DTYPES[config["dtype"]]
        params = {}
        for name, shape in cls.param_shapes(config).items():
            if name == "E":
                value = rng.standard_normal(shape)
            elif name.startswith("W"):
                bound = 1.0 / np.sqrt(shape[1])
                value = rng.uniform(-bound, bound, shape)
            else:
                value = np.zeros(shape)
            params[name] = value.astype(dtype)
        return cls(config, params)

    # ----- forward / backward -------------------------------------------------------------
    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        p, cfg = self.params, self.config
        V, D, H, k = cfg["vocab_size"], cfg["embed"], cfg["hidden"], cfg["block"]
        drop = cfg["dropout"] if train else 0.0
        if drop and rng is None:
            raise ConfigError("dropout during training needs a random generator (rng)")
        B, T = batch.X.shape
        N = B * T
        styles = self._batch_styles(batch, train, rng)  # (B,) or None
        W = windows(batch.X, k, None if state is None else state[0])  # (B, T, k)
        e = p["E"][W].reshape(N, k * D)  # (N, k*D)
        h, layers = e, []
        for l in range(cfg["layers"]):
            Wl, bl = self._key(l)
            a, lin = linear_forward(h, p[Wl], p[bl])  # (N, H)
            if l == 0 and styles is not None:
                a = (a.reshape(B, T, H) + style_rows(p["Sg"], styles)[:, None]).reshape(N, H)
            t = np.tanh(a)  # (N, H)
            h, keep = dropout_forward(t, drop, rng) if drop else (t, None)
            layers.append((lin, t, keep))
        logits, out_cache = linear_forward(h, p["Wya"], p["by"])  # (N, V)
        if styles is not None:
            logits = (logits.reshape(B, T, V) + style_rows(p["Sy"], styles)[:, None]).reshape(N, V)
        mask = batch.mask.astype(self.dtype, copy=False)  # (B, T)
        loss, nll, xent_cache = softmax_xent_forward(logits, batch.Y.reshape(-1), mask.reshape(-1), batch.norm)
        last = np.maximum(batch.mask.sum(axis=1).astype(np.int64) - 1, 0)  # (B,)
        return loss, {
            "logits": logits.reshape(B, T, V),
            "nll": nll.reshape(B, T),
            "final_state": (W[np.arange(B), last],),  # (B, k) the window after the last real position
            "inner": (W, styles, layers, out_cache, xent_cache),
        }

    def backward(self, cache: Cache) -> Params:
        cfg = self.config
        V, D, H, k = cfg["vocab_size"], cfg["embed"], cfg["hidden"], cfg["block"]
        W, styles, layers, out_cache, xent_cache = cache["inner"]
        B, T, _ = W.shape
        grads: dict[str, np.ndarray] = {}
        dlogits = softmax_xent_backward(xent_cache)  # (N, V)
        if styles is not None:
            grads["Sy"] = style_rows_backward(dlogits.reshape(B, T, V).sum(axis=1), styles,
                                              self.params["Sy"].shape[0])  # (rows, V)
        dh, grads["Wya"], grads["by"] = linear_backward(dlogits, out_cache)  # (N, H)
        for l in reversed(range(cfg["layers"])):
            lin, t, keep = layers[l]
            if keep is not None:
                dh = dropout_backward(dh, keep)
            da = dh * (1.0 - t * t)  # (N, H) through tanh
            if l == 0 and styles is not None:
                grads["Sg"] = style_rows_backward(da.reshape(B, T, H).sum(axis=1), styles,
                                                  self.params["Sg"].shape[0])  # (rows, H)
            Wl, bl = self._key(l)
            dh, grads[Wl], grads[bl] = linear_backward(da, lin)  # (N, in)
        grads["E"] = lookup_backward(dh.reshape(B, T, k, D), (W, (V, D), dh.dtype))  # (V, D)
        return grads

    # ----- generation -------------------------------------------------------------------------
    def initial_state(self, B: int) -> State:
        """The window before the start: k start ids per row, ``(B, k)``."""
        return (np.zeros((B, self.config["block"]), dtype=np.int64),)

    def stepper(self, style: int | None = None, factors=None) -> StepFn:
        """``step``: shift the new id into the window, then the same layers as ``forward``."""
        p, cfg = self.params, self.config
        s = self._step_style(style, factors)
        first_b = p["b1"].T if s is None else p["b1"].T + style_bias(p["Sg"], s)  # (1, H)
        out_b = p["by"].T if s is None else p["by"].T + style_bias(p["Sy"], s)  # (1, V)
        Ws = [(p[W].T, first_b if l == 0 else p[b].T) for l, (W, b) in enumerate(map(self._key, range(cfg["layers"])))]
        WyaT = p["Wya"].T

        def step(ids: np.ndarray, state: tuple):
            w = np.concatenate([state[0][:, 1:], np.asarray(ids, dtype=np.int64)[:, None]], axis=1)  # (B, k)
            h = p["E"][w].reshape(w.shape[0], -1)  # (B, k*D)
            for WT, bT in Ws:
                h = np.tanh(h @ WT + bT)  # (B, H)
            return h @ WyaT + out_b, (w,)  # (B, V)

        return step
