"""Stacked recurrent language models: what RNN, GRU and LSTM share.

A recurrent LM is ``L`` layers of one cell type between an input lookup and a
softmax output. Shape legend: B batch, T time, V vocabulary, D embedding size,
H hidden units, G gate width of the cell (H for RNN, 3H GRU, 4H LSTM).

Layer 0 input. With ``embed == 0`` the input is one-hot, as in the notebook:
``Wx0 x<t>`` is the column ``Wx0[:, id]``, so layer 0's input projection is a
gather from ``Wx0^T (V, G)``; the start input (id 0) is the zero vector, so the
first step sees only the bias (``x<0> = 0`` in the notebook). With
``embed = D > 0`` an embedding table ``E (V, D)`` comes first (row 0 is a learned
start embedding) and the projection ``E Wx0^T (V, G)`` is again a table, built
once per batch, so no (B*T, D) x (D, G) product is ever needed.

Layers ``l > 0`` take layer ``l-1``'s outputs (after dropout) as input; their
input projections for all T steps are one product. Only ``h<t-1> Wh^T`` remains
inside the time loop, one (B, H) x (H, G) product per step for the whole batch.

Output: ``logits<t> = Wya h_L<t> + by``, ``p<t> = softmax(logits<t>)``, loss =
sum over real positions of ``-log p<t>[y<t>]``, divided by ``batch.norm``.

Parameter names: layer 0 uses the cell's names as they are (the vanilla RNN's
are the notebook's ``Wax, Waa, b``); layer ``l > 0`` appends ``_l`` (``Waa_1``).
``E`` is the embedding, ``Wya, by`` the output layer, ``h0`` (and ``c0``) the
learned initial state when ``learn_h0`` is set.

Regularisation (training only): ``dropout`` on each layer's outputs, drawn per
position, or with ``variational`` one mask per name for all its positions;
``weight_drop`` drops entries of each layer's recurrent weight ``Wh`` with one
mask per batch (DropConnect, as AWD-LSTM does), and its gradient flows back
through the same mask.

Styles (a conditional model, ``styles = S > 0``): each row of a batch carries a
style id ``s`` in ``[0, S]``, where ``S`` means "any style" (the pooled model).
Two learned tables make every step depend on it::

    xa<t>     = Wx0 x<t> + b + Sg[s]         Sg (S+1, G): a gate bias per style, at every step
    logits<t> = Wya h_L<t> + by + Sy[s]      Sy (S+1, V): an output bias per style

Both start at zero (an untrained style is the pooled model). During training a
row's style is replaced by ``S`` with probability ``style_dropout``, so the same
network also learns the pooled distribution. ``with_style(s)`` returns a view of
the model with the style fixed, which samples, scores and evaluates like any
unconditional model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import DTYPES, Cache, Params, State, StepFn, TrainableModel, float_option, int_option
from .conditional import Conditional, style_bias, style_rows, style_rows_backward, table_rows
from .layers import (
    colsum,
    dropout_backward,
    dropout_forward,
    linear_backward,
    linear_forward,
    lookup_backward,
    lookup_forward,
    softmax_xent_backward,
    softmax_xent_forward,
)


class Cell:
    """A recurrent cell: its parameter names and its sequence/step ops.

    ``forward(xa, state0, p) -> (hs, states, cache)`` runs the recurrence over
    precomputed input projections ``xa (T, B, G)`` (bias included) from the
    initial state tuple ``state0``; ``hs (T, B, H)`` are the outputs and
    ``states`` the tuple of per-step state sequences (each (T, B, H)).
    ``backward(dhs, cache) -> (dxa, dstate0, dp)`` and
    ``step(xa_t, state, p) -> (h, state)`` for one position.
    """

    gates: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h0",)  # learned initial state params
    Wx: ClassVar[str] = "Wx"  # input weight (G, D_in)
    b: ClassVar[str] = "b"  # input bias (G, 1)
    Wh: ClassVar[str] = "Wh"  # recurrent weight (G, H)
    extra: ClassVar[tuple[str, ...]] = ()  # other per-layer (·, 1) params

    @classmethod
    def extra_shapes(cls, H: int) -> dict[str, tuple[int, ...]]:
        return {}

    @classmethod
    def init_bias(cls, H: int, dtype) -> np.ndarray:
        return np.zeros((cls.gates * H, 1), dtype=dtype)


class RecurrentLM(Conditional, TrainableModel):
    """Base class of the RNN, GRU and LSTM language models (see module docstring)."""

    cell: ClassVar[type[Cell]] = Cell
    defaults: ClassVar[dict[str, Any]] = {
        "hidden": 128,
        "layers": 1,
        "embed": 0,
        "dropout": 0.0,
        "learn_h0": False,
        "variational": False,
        "weight_drop": 0.0,
        "styles": 0, "factors": None,
        "style_dropout": 0.0,
    }

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        out["hidden"] = int_option(out, "hidden", 1, 8192)
        out["layers"] = int_option(out, "layers", 1, 16)
        out["embed"] = int_option(out, "embed", 0, 8192)
        out["weight_drop"] = float_option(out, "weight_drop", 0.0, 0.95)
        for flag in ("learn_h0", "variational"):
            if not isinstance(out[flag], bool):
                raise ConfigError(f"model option {flag} must be true or false, got {out[flag]!r}")
        return out

    # ----- parameters ----------------------------------------------------
    @staticmethod
    def _key(name: str, layer: int) -> str:
        return name if layer == 0 else f"{name}_{layer}"

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        V, H, D, L = config["vocab_size"], config["hidden"], config["embed"], config["layers"]
        G = cls.cell.gates * H
        shapes: dict[str, tuple[int, ...]] = {}
        if D:
            shapes["E"] = (V, D)
        for l in range(L):
            d_in = (D or V) if l == 0 else H
            shapes[cls._key(cls.cell.Wx, l)] = (G, d_in)
            shapes[cls._key(cls.cell.Wh, l)] = (G, H)
            shapes[cls._key(cls.cell.b, l)] = (G, 1)
            for name, shape in cls.cell.extra_shapes(H).items():
                shapes[cls._key(name, l)] = shape
            if config["learn_h0"]:
                for name in cls.cell.state_names:
                    shapes[cls._key(name, l)] = (H, 1)
        shapes["Wya"] = (V, H)
        shapes["by"] = (V, 1)
        if config["styles"]:
            shapes["Sg"] = (table_rows(config), G)
            shapes["Sy"] = (table_rows(config), V)
        return shapes

    @classmethod
    def create(cls, config: dict, rng: np.random.Generator) -> "RecurrentLM":
        """PyTorch-style init: weights U(-1/sqrt(H), 1/sqrt(H)), embedding N(0, 1), zero biases."""
        config = cls.check_config(config)
        dtype = DTYPES[config["dtype"]]
        H = config["hidden"]
        k = 1.0 / np.sqrt(H)
        params = {}
        for name, shape in cls.param_shapes(config).items():
            base = name.split("_")[0]
            if base == "E":
                value = rng.standard_normal(shape)
            elif base in (cls.cell.Wx, cls.cell.Wh, "Wya"):
                value = rng.uniform(-k, k, shape)
            elif base == cls.cell.b:
                value = cls.cell.init_bias(H, np.float64)
            else:  # by, h0/c0, cell extras
                value = np.zeros(shape)
            params[name] = value.astype(dtype)
        return cls(config, params)

    embedding = "E"  # the rows a new symbol gets (see Conditional.expanded)

    def _grown_input(self, name: str, old: np.ndarray, new_v: int, rng) -> np.ndarray | None:
        """With one-hot input (no embedding), layer 0's ``Wx (G, V)`` gains a column U(-1/sqrt(H), 1/sqrt(H))."""
        if name != self.cell.Wx or self.config["embed"]:
            return None
        k = 1.0 / np.sqrt(self.config["hidden"])
        return np.concatenate([old, rng.uniform(-k, k, (old.shape[0], new_v)).astype(old.dtype)], axis=1)

    # ----- state ------------------------------------------------------------
    def initial_state(self, B: int) -> State:
        """One (B, H) array per layer and state component (h, or h and c)."""
        H = self.config["hidden"]
        out = []
        for l in range(self.config["layers"]):
            for name in self.cell.state_names:
                key = self._key(name, l)
                if key in self.params:
                    out.append(np.repeat(self.params[key].T, B, axis=0))  # (B, H)
                else:
                    out.append(np.zeros((B, H), dtype=self.dtype))  # (B, H)
        return tuple(out)

    def _layer_state(self, state: tuple, l: int) -> tuple:
        n = len(self.cell.state_names)
        return tuple(state[l * n : (l + 1) * n])

    def _layer_params(self, l: int) -> dict:
        p = self.params
        names = (self.cell.Wh, *self.cell.extra)
        return {name: p[self._key(name, l)] for name in names}

    def _input_table(self):
        """Layer 0's input projection plus bias for every id: ``(V, G)`` rows ``Wx x + b``."""
        p = self.params
        Wx = p[self.cell.Wx]
        if self.config["embed"]:
            return p["E"] @ Wx.T + p[self.cell.b].T  # (V, G)
        table = Wx.T + p[self.cell.b].T  # (V, G)
        table[0] = p[self.cell.b][:, 0]  # the start input is the zero vector: only the bias
        return table

    # ----- forward / backward -------------------------------------------------
    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        p, cfg = self.params, self.config
        L, H, V = cfg["layers"], cfg["hidden"], cfg["vocab_size"]
        drop = cfg["dropout"] if train else 0.0
        wdrop = cfg["weight_drop"] if train else 0.0
        if (drop or wdrop) and rng is None:
            raise ConfigError("dropout during training needs a random generator (rng)")
        Xt, Yt = batch.X.T, batch.Y.T  # (T, B) time-major
        T, B = Xt.shape
        maskt = batch.mask.T.astype(self.dtype, copy=False)  # (T, B)
        learned_state = state is None
        state0 = self.initial_state(B) if state is None else state

        styles = self._batch_styles(batch, train, rng)  # (B,) or None
        xa, lookup_cache = self._input_forward(Xt)  # (T, B, G), bias included
        if styles is not None:
            xa = xa + style_rows(p["Sg"], styles)[None]  # (T, B, G) the style's gate bias at every step
        layer_caches = []
        inp = None
        final_state = []
        lengths = batch.mask.sum(axis=1).astype(np.int64)  # (B,)
        last = np.maximum(lengths - 1, 0)
        rows = np.arange(B)
        for l in range(L):
            lin_cache = None
            if l > 0:
                xa, lin_cache = linear_forward(
                    inp.reshape(T * B, H), p[self._key(self.cell.Wx, l)], p[self._key(self.cell.b, l)]
                )
                xa = xa.reshape(T, B, -1)  # (T, B, G)
            lp, wkeep = self._layer_params(l), None
            if wdrop:  # DropConnect on the recurrent weights: one mask per batch (Wan et al. 2013; AWD-LSTM)
                lp[self.cell.Wh], wkeep = dropout_forward(lp[self.cell.Wh], wdrop, rng)  # (G, H)
            hs, states, cell_cache = self.cell.forward(xa, self._layer_state(state0, l), lp)
            final_state.extend(s[last, rows] for s in states)  # each (B, H)
            keep = None
            if drop:
                hs, keep = dropout_forward(hs, drop, rng, (1, B, H) if cfg["variational"] else None)  # (T, B, H)
            layer_caches.append((lin_cache, cell_cache, keep, wkeep))
            inp = hs
        logits, out_cache = linear_forward(inp.reshape(T * B, H), p["Wya"], p["by"])  # (T*B, V)
        if styles is not None:  # the output bias
            logits = (logits.reshape(T, B, V) + style_rows(p["Sy"], styles)[None]).reshape(T * B, V)
        loss, nll, xent_cache = softmax_xent_forward(logits, Yt.reshape(-1), maskt.reshape(-1), batch.norm)
        cache = {
            "logits": logits.reshape(T, B, V).transpose(1, 0, 2),  # (B, T, V)
            "nll": nll.reshape(T, B).T,  # (B, T)
            "final_state": tuple(final_state),
            "inner": (lookup_cache, layer_caches, out_cache, xent_cache, learned_state, T, B, styles),
        }
        return loss, cache

    def backward(self, cache: Cache) -> Params:
        cfg = self.config
        L, H = cfg["layers"], cfg["hidden"]
        lookup_cache, layer_caches, out_cache, xent_cache, learned_state, T, B, styles = cache["inner"]
        grads: dict[str, np.ndarray] = {}
        dlogits = softmax_xent_backward(xent_cache)  # (T*B, V)
        if styles is not None:
            grads["Sy"] = style_rows_backward(dlogits.reshape(T, B, -1).sum(axis=0), styles,
                                              self.params["Sy"].shape[0])  # (rows, V)
        dtop, grads["Wya"], grads["by"] = linear_backward(dlogits, out_cache)  # (T*B, H)
        dhs = dtop.reshape(T, B, H)
        for l in reversed(range(L)):
            lin_cache, cell_cache, keep, wkeep = layer_caches[l]
            if keep is not None:
                dhs = dropout_backward(dhs, keep)
            dxa, dstate0, dcell = self.cell.backward(dhs, cell_cache)  # dxa (T, B, G)
            if wkeep is not None:
                dcell[self.cell.Wh] = dropout_backward(dcell[self.cell.Wh], wkeep)  # through the dropped weights
            for name, g in dcell.items():
                grads[self._key(name, l)] = g
            if cfg["learn_h0"]:
                for name, ds in zip(self.cell.state_names, dstate0):
                    grads[self._key(name, l)] = (
                        colsum(ds)[:, None] if learned_state else np.zeros((H, 1), dtype=self.dtype)
                    )
            G = dxa.shape[-1]
            if l > 0:
                dinp, gW, gb = linear_backward(dxa.reshape(T * B, G), lin_cache)
                grads[self._key(self.cell.Wx, l)] = gW
                grads[self._key(self.cell.b, l)] = gb
                dhs = dinp.reshape(T, B, H)
            else:
                grads.update(self._input_backward(dxa.reshape(T * B, G), lookup_cache))
                if styles is not None:
                    grads["Sg"] = style_rows_backward(dxa.sum(axis=0), styles, self.params["Sg"].shape[0])
        return grads

    def _input_forward(self, Xt: np.ndarray):
        """Layer 0's input projection ``xa = Wx x + b`` for ids ``Xt (T, B)``: ``(T, B, G)``.

        Small alphabets gather rows of the ``(V, G)`` table of every id's projection
        (one product of V rows per batch); when the alphabet has more symbols than
        the batch has tokens (thousands of CJK symbols), the embedded tokens are
        projected instead (``(T*B, D) x (D, G)``). Both compute the same numbers.
        """
        p = self.params
        if self.config["embed"] and self.vocab_size > Xt.size:
            emb, emb_cache = lookup_forward(p["E"], Xt)  # (T, B, D)
            xa, proj_cache = linear_forward(emb.reshape(Xt.size, -1), p[self.cell.Wx], p[self.cell.b])  # (T*B, G)
            return xa.reshape(*Xt.shape, -1), ("tokens", emb_cache, proj_cache)
        xa, cache = lookup_forward(self._input_table(), Xt)  # (T, B, G)
        return xa, ("table", cache)

    def _input_backward(self, dxa: np.ndarray, cache) -> dict[str, np.ndarray]:
        """Gradients of layer 0's ``Wx``, ``b`` (and ``E``) from ``dxa (T*B, G)``."""
        p, cell = self.params, self.cell
        if cache[0] == "tokens":
            demb, gW, gb = linear_backward(dxa, cache[2])  # (T*B, D), (G, D), (G, 1)
            return {cell.Wx: gW, cell.b: gb, "E": lookup_backward(demb, cache[1])}
        grads = {cell.b: colsum(dxa)[:, None]}
        dtable = lookup_backward(dxa, cache[1])  # (V, G)
        if self.config["embed"]:
            grads[cell.Wx] = dtable.T @ p["E"]  # (G, D)
            grads["E"] = dtable @ p[cell.Wx]  # (V, D)
        else:
            dtable[0] = 0.0  # the start input is zero, not a parameter
            grads[cell.Wx] = dtable.T  # (G, V)
        return grads

    # ----- generation ------------------------------------------------------------
    def stepper(self, style: int | None = None, factors=None) -> StepFn:
        """``step`` with the input table and the transposed weights prepared once (for one style, if styled)."""
        p, cfg = self.params, self.config
        table = self._input_table()  # (V, G), bias included
        layers = []
        for l in range(cfg["layers"]):
            proj = None if l == 0 else (p[self._key(self.cell.Wx, l)].T, p[self._key(self.cell.b, l)].T)
            layers.append((proj, self._layer_params(l)))
        WyaT, byT = p["Wya"].T, p["by"].T
        if self.styles:
            s = self._step_style(style, factors)
            table, byT = table + style_bias(p["Sg"], s), byT + style_bias(p["Sy"], s)  # the style's biases folded in
        cell, layer_state = self.cell, self._layer_state

        def step(ids: np.ndarray, state: tuple):
            x = table[ids]  # (B, G)
            new_state = []
            h = None
            for l, (proj, lp) in enumerate(layers):
                if proj is not None:
                    x = h @ proj[0] + proj[1]  # (B, G)
                h, s = cell.step(x, layer_state(state, l), lp)
                new_state.extend(s)
            return h @ WyaT + byT, tuple(new_state)  # (B, V)

        return step


