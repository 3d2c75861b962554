"""A decoder-only transformer (GPT-2's block, as in makemore and nanoGPT), forward and backward in NumPy.

Shape legend: B batch, T time (positions), V vocabulary, D embedding (``embed``),
nh heads, dh = D / nh head size, F the MLP's width (``hidden``), P ``block``
(learned positions), L layers, N = B*T rows.

Equations with the code's names (row form; layer ``l``'s parameters end in ``_l``)::

    x<t>   = wte[X<t>] + wpe[min(t, P-1)] (+ Sg[s])          (B, T, D)  embedding (dropout)
    for each layer:
      a    = LN(x; ln1_g, ln1_b)
      q, k, v = split(a Wqkv^T + bqkv^T)                       each (B, nh, T, dh)
      att  = q k^T / sqrt(dh), masked to t-P < j <= t           (B, nh, T, T)
      y    = softmax(att) v  -> (B, T, D);   x += y Wo^T + bo^T (dropout)
      m    = GELU(LN(x; ln2_g, ln2_b) W1^T + b1^T) W2^T + b2^T;  x += m (dropout)
    logits = LN(x; lnf_g, lnf_b) Wya^T + by^T (+ Sy[s])       (B, T, V); Wya = wte when ``tie``

Each position attends to itself and the ``P - 1`` positions before it. A name of
fewer than ``P`` characters (the default ``block`` of 16 covers makemore's names)
is exactly the usual causal transformer; a longer one reads through a sliding
window of ``P`` positions in each layer (``L (P - 1) + 1`` positions back in
all), and positions from ``P - 1`` on share the last position embedding. ``forward`` and ``step`` compute the
same numbers either way.

Generation keeps a key/value cache in the state: for each layer a ring buffer of
the last P keys and values ``(B, nh, P, dh)`` (position ``t`` in slot ``t % P``)
and the position ``pos (B,)``, so ``step`` costs one position, not the whole
prefix. Every op is a forward/backward pair (``layers.py``: linear, layernorm,
GELU, softmax cross-entropy; here: causal attention); the gradient checks cover
each parameter on padded batches (padding comes last, and causal attention never
lets a real position see it).

Styles (``styles = S > 0``, see ``conditional.py``): ``Sg (S+1, D)`` is added to
the embedding at every position and ``Sy (S+1, V)`` to the logits.
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
    gelu_backward,
    gelu_forward,
    layernorm_backward,
    layernorm_forward,
    linear_backward,
    linear_forward,
    lookup_backward,
    softmax_xent_backward,
    softmax_xent_forward,
)

LAYER_PARAMS = ("ln1_g", "ln1_b", "Wqkv", "bqkv", "Wo", "bo", "ln2_g", "ln2_b", "W1", "b1", "W2", "b2")


# ----- causal attention over a window of P positions ------------------------------------
def window_mask(T: int, P: int) -> np.ndarray:
    """``(T, T)`` bool: position i may attend to j when ``i - P < j <= i``."""
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    return (j <= i) & (j > i - P)


def attention_forward(qkv: np.ndarray, heads: int, P: int):
    """Multi-head causal self-attention of ``qkv (B, T, 3D)``; returns ``y (B, T, D)`` and the cache.

    ``att = q k^T / sqrt(dh)`` with masked entries at -inf, ``p = softmax(att)``, ``y = p v``.
    """
    B, T, D3 = qkv.shape
    D = D3 // 3
    dh = D // heads
    q, k, v = (qkv[..., i * D : (i + 1) * D].reshape(B, T, heads, dh).transpose(0, 2, 1, 3)
               for i in range(3))  # each (B, nh, T, dh)
    scale = float(1.0 / np.sqrt(dh))  # a Python float: a NumPy float64 would turn float32 arrays into float64
    att = (q @ k.transpose(0, 1, 3, 2)) * scale  # (B, nh, T, T)
    att = np.where(window_mask(T, P), att, -np.inf)
    att -= att.max(axis=-1, keepdims=True)
    p = np.exp(att)  # (B, nh, T, T), 0 where masked
    p /= p.sum(axis=-1, keepdims=True)
    y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, D)  # (B, T, D)
    return y, (q, k, v, p, scale)


def attention_backward(dy: np.ndarray, cache) -> np.ndarray:
    """``dqkv (B, T, 3D)`` from ``dy (B, T, D)``::

        dp = dy v^T;  dv = p^T dy;  datt = p * (dp - sum_j(dp * p))
        dq = datt k * scale;  dk = datt^T q * scale
    """
    q, k, v, p, scale = cache
    B, nh, T, dh = q.shape
    dy = dy.reshape(B, T, nh, dh).transpose(0, 2, 1, 3)  # (B, nh, T, dh)
    dp = dy @ v.transpose(0, 1, 3, 2)  # (B, nh, T, T)
    dv = p.transpose(0, 1, 3, 2) @ dy  # (B, nh, T, dh)
    datt = p * (dp - (dp * p).sum(axis=-1, keepdims=True))  # (B, nh, T, T), 0 where masked
    dq = (datt @ k) * scale  # (B, nh, T, dh)
    dk = (datt.transpose(0, 1, 3, 2) @ q) * scale  # (B, nh, T, dh)
    return np.concatenate([g.transpose(0, 2, 1, 3).reshape(B, T, nh * dh) for g in (dq, dk, dv)], axis=-1)


class Transformer(Conditional, TrainableModel):
    """Decoder-only transformer language model (see the module docstring)."""

    kind = "transformer"
    embedding = "wte"
    defaults: ClassVar[dict[str, Any]] = {
        "embed": 64, "layers": 4, "heads": 4, "hidden": 256, "block": 16, "dropout": 0.0, "tie": False,
        "styles": 0, "factors": None, "style_dropout": 0.0,
    }

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        out["embed"] = int_option(out, "embed", 1, 8192)
        out["layers"] = int_option(out, "layers", 1, 64)
        out["heads"] = int_option(out, "heads", 1, 256)
        out["hidden"] = int_option(out, "hidden", 1, 32768)
        out["block"] = int_option(out, "block", 1, 4096)
        if out["embed"] % out["heads"]:
            raise ConfigError(f"the transformer's --embed ({out['embed']}) must be a multiple of --heads "
                              f"({out['heads']})")
        if not isinstance(out["tie"], bool):
            raise ConfigError(f"model option tie must be true or false, got {out['tie']!r}")
        return out

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        V, D, F, P = config["vocab_size"], config["embed"], config["hidden"], config["block"]
        shapes: dict[str, tuple[int, ...]] = {"wte": (V, D), "wpe": (P, D)}
        for l in range(config["layers"]):
            shapes.update({f"{k}_{l}": s for k, s in (
                ("ln1_g", (D,)), ("ln1_b", (D,)), ("Wqkv", (3 * D, D)), ("bqkv", (3 * D, 1)),
                ("Wo", (D, D)), ("bo", (D, 1)), ("ln2_g", (D,)), ("ln2_b", (D,)),
                ("W1", (F, D)), ("b1", (F, 1)), ("W2", (D, F)), ("b2", (D, 1)))})
        shapes.update({"lnf_g": (D,), "lnf_b": (D,)})
        if not config["tie"]:
            shapes["Wya"] = (V, D)
        shapes["by"] = (V, 1)
        if config["styles"]:
            shapes["Sg"] = (table_rows(config), D)
            shapes["Sy"] = (table_rows(config), V)
        return shapes

    @classmethod
    def create(cls, config: dict, rng: np.random.Generator) -> "Transformer":
        """PyTorch's default init, as makemore's transformer gets it: embeddings N(0, 1), weights
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), layer-norm gains 1, biases and style tables 0. (GPT-2's
        N(0, 0.02) init was measured worse here: 2.172 against 2.111 nats/char after 2,000 steps.)"""
        config = cls.check_config(config)
        dtype = DTYPES[config["dtype"]]
        params = {}
        for name, shape in cls.param_shapes(config).items():
            base = name.split("_")[0]
            if name.endswith("_g") or "_g_" in name:
                value = np.ones(shape)
            elif base in ("wte", "wpe"):
                value = rng.standard_normal(shape)
            elif base in ("Wqkv", "Wo", "W1", "W2", "Wya"):
                bound = 1.0 / np.sqrt(shape[1])
                value = rng.uniform(-bound, bound, shape)
            else:  # biases, layer-norm shifts, style tables
                value = np.zeros(shape)
            params[name] = value.astype(dtype)
        return cls(config, params)

    def _out_weight(self) -> np.ndarray:
        return self.params["wte"] if self.config["tie"] else self.params["Wya"]  # (V, D)

    def _layer(self, l: int) -> dict[str, np.ndarray]:
        return {k: self.params[f"{k}_{l}"] for k in LAYER_PARAMS}

    # ----- forward / backward -------------------------------------------------------------
    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        if state is not None:
            raise ConfigError("the transformer reads whole names from their start (no initial state)")
        p, cfg = self.params, self.config
        P, V, D = cfg["block"], cfg["vocab_size"], cfg["embed"]
        drop = cfg["dropout"] if train else 0.0
        if drop and rng is None:
            raise ConfigError("dropout during training needs a random generator (rng)")
        X = batch.X  # (B, T)
        B, T = X.shape
        styles = self._batch_styles(batch, train, rng)  # (B,) or None
        pos = np.minimum(np.arange(T), P - 1)  # (T,)
        x = p["wte"][X] + p["wpe"][pos]  # (B, T, D)
        if styles is not None:
            x = x + style_rows(p["Sg"], styles)[:, None]  # (B, T, D)
        keep0 = None
        if drop:
            x, keep0 = dropout_forward(x, drop, rng)
        blocks, kv = [], []
        for l in range(cfg["layers"]):
            x, c = self._block_forward(x, self._layer(l), drop, rng)
            blocks.append(c)
            kv.append(c[2][1:3])  # the attention's (k, v), each (B, nh, T, dh)
        xf, lnf_cache = layernorm_forward(x, p["lnf_g"], p["lnf_b"])  # (B, T, D)
        logits, out_cache = linear_forward(xf.reshape(B * T, D), self._out_weight(), p["by"])  # (N, V)
        if styles is not None:
            logits = (logits.reshape(B, T, V) + style_rows(p["Sy"], styles)[:, None]).reshape(B * T, V)
        mask = batch.mask.astype(self.dtype, copy=False)  # (B, T)
        loss, nll, xent_cache = softmax_xent_forward(logits, batch.Y.reshape(-1), mask.reshape(-1), batch.norm)
        lengths = batch.mask.sum(axis=1).astype(np.int64)  # (B,) positions read
        return loss, {
            "logits": logits.reshape(B, T, V),
            "nll": nll.reshape(B, T),
            "final_state": self._final_state(kv, lengths),
            "inner": (X, pos, styles, keep0, blocks, lnf_cache, out_cache, xent_cache),
        }

    def _block_forward(self, x: np.ndarray, lp: dict, drop: float, rng):
        """One pre-LN block: ``x + attn(LN1(x))``, then ``+ MLP(LN2(x))``; ``x (B, T, D)``."""
        B, T, D = x.shape
        N = B * T
        a, ln1 = layernorm_forward(x, lp["ln1_g"], lp["ln1_b"])  # (B, T, D)
        qkv, lin_qkv = linear_forward(a.reshape(N, D), lp["Wqkv"], lp["bqkv"])  # (N, 3D)
        y, att = attention_forward(qkv.reshape(B, T, 3 * D), self.config["heads"], self.config["block"])  # (B, T, D)
        o, lin_o = linear_forward(y.reshape(N, D), lp["Wo"], lp["bo"])  # (N, D)
        keep1 = keep2 = None
        if drop:
            o, keep1 = dropout_forward(o, drop, rng)
        x = x + o.reshape(B, T, D)  # (B, T, D) residual
        m_in, ln2 = layernorm_forward(x, lp["ln2_g"], lp["ln2_b"])  # (B, T, D)
        f, lin_1 = linear_forward(m_in.reshape(N, D), lp["W1"], lp["b1"])  # (N, F)
        gf, gelu = gelu_forward(f)  # (N, F)
        m, lin_2 = linear_forward(gf, lp["W2"], lp["b2"])  # (N, D)
        if drop:
            m, keep2 = dropout_forward(m, drop, rng)
        x = x + m.reshape(B, T, D)  # (B, T, D) residual
        return x, (ln1, lin_qkv, att, lin_o, keep1, ln2, lin_1, gelu, lin_2, keep2)

    @staticmethod
    def _block_backward(dx: np.ndarray, c) -> tuple[np.ndarray, dict]:
        """``dx (B, T, D)`` at the block's output -> at its input, and the block's parameter gradients."""
        ln1, lin_qkv, att, lin_o, keep1, ln2, lin_1, gelu, lin_2, keep2 = c
        B, T, D = dx.shape
        N = B * T
        g: dict[str, np.ndarray] = {}
        dm = dx.reshape(N, D)  # the residual passes dx on unchanged; the MLP branch adds its part
        if keep2 is not None:
            dm = dropout_backward(dm, keep2)
        dgf, g["W2"], g["b2"] = linear_backward(dm, lin_2)  # (N, F)
        df = gelu_backward(dgf, gelu)  # (N, F)
        dm_in, g["W1"], g["b1"] = linear_backward(df, lin_1)  # (N, D)
        dln2, g["ln2_g"], g["ln2_b"] = layernorm_backward(dm_in.reshape(B, T, D), ln2)
        dx = dx + dln2  # (B, T, D)
        do = dx.reshape(N, D)
        if keep1 is not None:
            do = dropout_backward(do, keep1)
        dy, g["Wo"], g["bo"] = linear_backward(do, lin_o)  # (N, D)
        dqkv = attention_backward(dy.reshape(B, T, D), att)  # (B, T, 3D)
        da, g["Wqkv"], g["bqkv"] = linear_backward(dqkv.reshape(N, 3 * D), lin_qkv)  # (N, D)
        dln1, g["ln1_g"], g["ln1_b"] = layernorm_backward(da.reshape(B, T, D), ln1)
        return dx + dln1, g

    def backward(self, cache: Cache) -> Params:
        cfg = self.config
        X, pos, styles, keep0, blocks, lnf_cache, out_cache, xent_cache = cache["inner"]
        B, T = X.shape
        V, D, P = cfg["vocab_size"], cfg["embed"], cfg["block"]
        grads: dict[str, np.ndarray] = {}
        dlogits = softmax_xent_backward(xent_cache)  # (N, V)
        if styles is not None:
            grads["Sy"] = style_rows_backward(dlogits.reshape(B, T, V).sum(axis=1), styles,
                                              self.params["Sy"].shape[0])  # (rows, V)
        dxf, dW_out, grads["by"] = linear_backward(dlogits, out_cache)  # (N, D)
        dx, grads["lnf_g"], grads["lnf_b"] = layernorm_backward(dxf.reshape(B, T, D), lnf_cache)  # (B, T, D)
        for l in reversed(range(cfg["layers"])):
            dx, g = self._block_backward(dx, blocks[l])
            grads.update({f"{k}_{l}": v for k, v in g.items()})
        if keep0 is not None:
            dx = dropout_backward(dx, keep0)
        grads["wte"] = lookup_backward(dx, (X, (V, D), dx.dtype))  # (V, D)
        if cfg["tie"]:
            grads["wte"] += dW_out
        else:
            grads["Wya"] = dW_out
        grads["wpe"] = lookup_backward(dx.sum(axis=0), (pos, (P, D), dx.dtype))  # (P, D)
        if styles is not None:
            grads["Sg"] = style_rows_backward(dx.sum(axis=1), styles, self.params["Sg"].shape[0])  # (rows, D)
        return grads

    # ----- the key/value cache --------------------------------------------------------------
    def initial_state(self, B: int) -> State:
        """``(pos (B,), k_0, v_0, k_1, v_1, ...)``: each layer's ring of the last P keys/values (B, nh, P, dh)."""
        cfg = self.config
        nh, P = cfg["heads"], cfg["block"]
        ring = (B, nh, P, cfg["embed"] // nh)
        return (np.zeros(B, dtype=np.int64), *(np.zeros(ring, dtype=self.dtype) for _ in range(2 * cfg["layers"])))

    def _final_state(self, kv: list, lengths: np.ndarray) -> State:
        """The cache after each row has read its ``lengths`` positions (what ``step`` leaves): slot j holds
        the keys/values of the latest position ``t < length`` with ``t % P == j``, zeros if there is none."""
        P = self.config["block"]
        B = lengths.size
        j = np.arange(P)[None, :]  # (1, P)
        t = (lengths[:, None] - 1) - (lengths[:, None] - 1 - j) % P  # (B, P) the position in each slot
        have = (t >= 0)[:, :, None, None]  # (B, P, 1, 1)
        rows = np.arange(B)[:, None]
        state = [lengths.copy()]
        for k, v in kv:  # each (B, nh, T, dh)
            for a in (k, v):
                ring = a.transpose(0, 2, 1, 3)[rows, np.maximum(t, 0)] * have  # (B, P, nh, dh)
                state.append(np.ascontiguousarray(ring.transpose(0, 2, 1, 3)))  # (B, nh, P, dh)
        return tuple(state)

    # ----- generation -------------------------------------------------------------------------
    def stepper(self, style: int | None = None, factors=None) -> StepFn:
        """``step``: one position through every layer, reading and extending the key/value rings."""
        p, cfg = self.params, self.config
        P, nh, D, L = cfg["block"], cfg["heads"], cfg["embed"], cfg["layers"]
        dh = D // nh
        scale = float(1.0 / np.sqrt(dh))  # a Python float: a NumPy float64 would turn float32 arrays into float64
        s = self._step_style(style, factors)
        emb_bias = p["wpe"] if s is None else p["wpe"] + style_bias(p["Sg"], s)  # (P, D)
        out_b = p["by"].T if s is None else p["by"].T + style_bias(p["Sy"], s)  # (1, V)
        WoutT = self._out_weight().T  # (D, V)
        layers = [self._layer(l) for l in range(L)]

        def step(ids: np.ndarray, state: tuple):
            pos = state[0]  # (B,)
            B = pos.shape[0]
            rows = np.arange(B)
            x = p["wte"][ids] + emb_bias[np.minimum(pos, P - 1)]  # (B, D)
            slot = pos % P  # (B,)
            valid = np.arange(P)[None, :] < np.minimum(pos + 1, P)[:, None]  # (B, P) filled slots
            new = [pos + 1]
            for l, lp in enumerate(layers):
                a, _ = layernorm_forward(x, lp["ln1_g"], lp["ln1_b"])  # (B, D)
                qkv = a @ lp["Wqkv"].T + lp["bqkv"].T  # (B, 3D)
                q, k, v = (qkv[:, i * D : (i + 1) * D].reshape(B, nh, dh) for i in range(3))  # (B, nh, dh)
                K, Vc = state[1 + 2 * l].copy(), state[2 + 2 * l].copy()  # (B, nh, P, dh)
                K[rows, :, slot], Vc[rows, :, slot] = k, v
                att = np.einsum("bhd,bhpd->bhp", q, K) * scale  # (B, nh, P)
                att = np.where(valid[:, None, :], att, -np.inf)
                w = np.exp(att - att.max(axis=-1, keepdims=True))
                w /= w.sum(axis=-1, keepdims=True)
                y = np.einsum("bhp,bhpd->bhd", w, Vc).reshape(B, D)  # (B, D)
                x = x + y @ lp["Wo"].T + lp["bo"].T  # (B, D)
                m, _ = layernorm_forward(x, lp["ln2_g"], lp["ln2_b"])
                x = x + gelu_forward(m @ lp["W1"].T + lp["b1"].T)[0] @ lp["W2"].T + lp["b2"].T  # (B, D)
                new += [K, Vc]
            xf, _ = layernorm_forward(x, p["lnf_g"], p["lnf_b"])  # (B, D)
            return xf @ WoutT + out_b, tuple(new)  # (B, V)

        return step
