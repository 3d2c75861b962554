"""Conditional (styled) neural models: what the recurrent models, the MLP and the transformer share.

A conditional model has ``styles = S > 0`` in its configuration. Each row of a
batch carries a style id ``s`` in ``[0, S]``, where ``S`` means "any style" (the
pooled model). Each model adds learned per-style rows of its own (an input or
gate bias ``Sg (S+1, ·)`` and an output bias ``Sy (S+1, V)``); during training a
row's style is replaced by ``S`` with probability ``style_dropout``, so the same
network also learns the pooled distribution. ``with_style(s)`` returns a
:class:`StyleView`, the model with its style fixed, which samples, scores and
evaluates like any unconditional model.

**Further factors** (``factors = [F_1, ..., F_K]``, e.g. kind and sex of a corpus with those
columns): each factor has its own rows in the same tables, after the styles' ``S + 1``: factor
``k``'s values ``0 .. F_k - 1`` and its "any value" row ``F_k``. A row of a batch adds one row
per factor (its style's and each factor's value's)::

    Sg[s] + Sg[o_1 + v_1] + ... + Sg[o_K + v_K]        o_k = S + 1 + sum_{j<k} (F_j + 1)

so a factor's effect is shared by every style (no table per combination), a value left blank in
the data is the factor's "any" row, and each factor is dropped to its "any" row with probability
``style_dropout`` on its own, so every subset of controls is trained. ``with_style(s, factors)``
fixes the style and any factors (a value id, or None for "any").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ConfigError
from .base import Cache, Params, State, StepFn, TrainableModel, float_option, int_option
from .layers import lookup_backward


def table_rows(config: dict) -> int:
    """Rows of the style tables ``Sg``, ``Sy``: the styles and their pooled row, then each further factor's."""
    return config["styles"] + 1 + sum(n + 1 for n in config.get("factors") or ())


def style_rows(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each batch row's style bias: ``table[rows]`` for one style id per row ``(B,)``, else the sum of its
    ``(B, K)`` rows (a style and its further factors' values)."""
    return table[rows] if rows.ndim == 1 else table[rows].sum(axis=1)


def style_rows_backward(d: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """The gradient of a style table from ``d (B, G)``, the gradient of each batch row's bias."""
    if rows.ndim == 2:  # every one of a row's K table rows receives the row's gradient
        d = np.repeat(d, rows.shape[1], axis=0)
    return lookup_backward(d, (rows, (n_rows, d.shape[-1]), d.dtype))


def style_bias(table: np.ndarray, rows) -> np.ndarray:
    """One stepper's bias: the row ``rows`` (an int), or the sum of the rows of a tuple, as ``style_rows`` sums."""
    return table[rows] if isinstance(rows, (int, np.integer)) else table[list(rows)].sum(axis=0)


class Conditional:
    """Mixin for trainable models with a ``styles`` option; the model's ``stepper(style)`` takes a style."""

    config: dict

    @classmethod
    def check_config(cls, config: dict) -> dict:
        """The options every network shares: ``dropout``, ``styles`` and ``style_dropout``."""
        out = super().check_config(config)  # type: ignore[misc]
        out["dropout"] = float_option(out, "dropout", 0.0, 0.95)
        out["styles"] = int_option(out, "styles", 0, 100_000)
        out["style_dropout"] = float_option(out, "style_dropout", 0.0, 1.0)
        factors = out.get("factors") or []
        if (not isinstance(factors, list) or len(factors) > 8 or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 10_000 for n in factors)):
            raise ConfigError("factors must be a list of at most 8 value counts, each a whole number in [1, 10000]")
        if factors and not out["styles"]:
            raise ConfigError("further factors need styles (a labelled corpus)")
        if factors:
            out["factors"] = factors
        else:  # no key at all: a model without factors has the configuration (and digest) it always had
            out.pop("factors", None)
        return out

    @property
    def styles(self) -> int:
        """Number of styles (0: not a conditional model)."""
        return self.config["styles"]

    @property
    def factors(self) -> list[int]:
        """Values of each further factor (kind, sex, ...): empty for a model with styles alone."""
        return list(self.config.get("factors") or ())

    def with_style(self, style: int | None, factors=None) -> "TrainableModel":
        """This model with its style fixed (None: the pooled "any style" row) and, for a model with further
        factors, their values (a sequence of value ids, None for "any"); itself when it has no styles."""
        if not self.styles:
            return self  # type: ignore[return-value]
        return StyleView(self, self.styles if style is None else int(style),  # type: ignore[arg-type]
                         factor_ids(self.factors, factors))

    def _offsets(self) -> np.ndarray:
        """The first table row of each further factor (K,)."""
        sizes = np.array([n + 1 for n in self.factors], dtype=np.int64)
        return self.styles + 1 + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    def _batch_styles(self, batch, train: bool, rng) -> np.ndarray | None:
        """Each row's style table row (B,), the pooled id S where the batch has none; with further factors
        each row's K + 1 table rows (B, K + 1), a factor's "any" row where the batch has none; each dropped to
        its "any" row with probability ``style_dropout`` when training (one draw per row and factor)."""
        S = self.styles
        if not S:
            return None
        B = batch.X.shape[0]
        s = np.full(B, S, dtype=np.int64) if batch.styles is None else np.asarray(batch.styles, dtype=np.int64)
        if s.shape != (B,) or s.min(initial=0) < 0 or s.max(initial=0) > S:
            raise ConfigError(f"style ids must be in [0, {S}], one per row")
        drop = train and self.config["style_dropout"] > 0
        if drop:
            s = np.where(rng.random(B) < self.config["style_dropout"], S, s)  # (B,)
        sizes = self.factors
        if not sizes:
            return s
        n = np.array(sizes, dtype=np.int64)  # (K,)
        f = (np.broadcast_to(n, (B, n.size)) if batch.factors is None
             else np.asarray(batch.factors, dtype=np.int64))  # (B, K) value ids, n_k = any
        if f.shape != (B, n.size) or f.min(initial=0) < 0 or np.any(f > n):
            raise ConfigError(f"factor ids must be one row of {n.size} per name, each in [0, F_k]")
        if drop:
            f = np.where(rng.random((B, n.size)) < self.config["style_dropout"], n, f)
        return np.concatenate([s[:, None], self._offsets() + f], axis=1)  # (B, K + 1) table rows

    # ----- fine-tuning: growing the alphabet and the styles -------------------------------
    embedding: str = "E"  # the input embedding table (V, D): a new symbol gets a row N(0, std)

    def expanded(self, vocab_size: int, styles: int, rng: np.random.Generator, **training):
        """This network over a larger alphabet and more styles, every existing number kept bit for bit.

        New symbols (ids appended after the old ones) get new rows: an embedding
        row ``N(0, std(embedding))`` (or what ``_grown_input`` gives), a zero row of
        the output weight ``Wya`` and the smallest output bias of the known symbols
        (a new character starts as unlikely as the rarest known one). New styles
        are inserted before the pooled row and start as copies of it (an unseen
        style is the pooled model until trained). ``training``: options that change
        training only (dropout, ...), for the fine-tuning run.
        """
        V0, S0 = self.vocab_size, self.styles
        if vocab_size < V0 or styles < S0:
            raise ConfigError("a model can only grow: more symbols and styles, never fewer")
        config = self.check_config({**self.config, **training, "vocab_size": vocab_size, "styles": styles})
        new_v = vocab_size - V0
        params = {}
        for name, shape in self.param_shapes(config).items():
            old = self.params.get(name)
            if name in ("Sg", "Sy"):
                value = self._grown_styles(old, shape, S0)
            elif name == self.embedding:
                rows = rng.normal(0.0, float(old.std()) or 1.0, (new_v, shape[1]))
                value = np.concatenate([old, rows.astype(old.dtype)])
            elif name == "Wya":
                value = np.concatenate([old, np.zeros((new_v, shape[1]), old.dtype)])
            elif name == "by":
                value = np.concatenate([old, np.full((new_v, 1), old[1:].min() if V0 > 1 else 0.0, old.dtype)])
            else:
                grown = self._grown_input(name, old, new_v, rng)
                value = old.copy() if grown is None else grown
            params[name] = value
        return type(self)(config, params)

    def pooled_from(self, weights) -> "Conditional":
        """This network with its "any style" rows of ``Sg`` and ``Sy`` set to the ``weights (S,)`` average of
        the styles' rows: an unlabelled list fine-tuned on a styled base starts as the styles it sounds like."""
        w = np.asarray(weights, dtype=np.float64)
        S = self.styles
        if w.shape != (S,) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
            raise ConfigError(f"pooled_from needs {S} non-negative weights summing to 1")
        params = dict(self.params)
        for name in ("Sg", "Sy"):
            rows = params[name].copy()  # (S+1, G) or (S+1, V)
            rows[S] = (w @ rows[:S].astype(np.float64)).astype(rows.dtype)
            params[name] = rows
        return type(self)(self.config, params)

    def _grown_input(self, name: str, old: np.ndarray, new_v: int, rng) -> np.ndarray | None:
        """A model's other parameter with a vocabulary axis, grown for ``new_v`` new symbols (None: none)."""
        return None

    def _grown_styles(self, old: np.ndarray | None, shape: tuple[int, ...], S0: int) -> np.ndarray:
        """A style table with rows for new styles (copies of the pooled row, last) and zero columns for new symbols."""
        value = np.zeros(shape, dtype=self.dtype)
        if old is None:
            return value
        S = shape[0] - (old.shape[0] - S0 - 1) - 1  # the new style count: the further factors' rows are kept
        value[:S0, : old.shape[1]] = old[:S0]
        value[S0:S + 1, : old.shape[1]] = old[S0]  # new styles and the pooled row start as the pooled row
        value[S + 1:, : old.shape[1]] = old[S0 + 1:]  # the further factors' rows, as they were
        return value

    def _step_style(self, style: int | None, factors=None):
        """The style rows a stepper uses: None for a model without styles, S (pooled) when none is asked; with
        further factors the tuple of its table rows (style, then each factor's value or "any" row)."""
        if not self.styles:
            return None
        s = self.styles if style is None else int(style)
        ids = factor_ids(self.factors, factors)
        if ids is None:
            return s
        return (s, *(int(o + v) for o, v in zip(self._offsets(), ids)))



def factor_ids(sizes: list[int], factors) -> tuple[int, ...] | None:
    """Each further factor's value id (its count F_k for "any") from ``factors`` (value ids, None for "any";
    missing trailing entries are "any"), None for a model without factors."""
    if not sizes:
        return None
    given = list(factors or ())
    if len(given) > len(sizes):
        raise ConfigError(f"this model has {len(sizes)} further factors, got {len(given)} values")
    given += [None] * (len(sizes) - len(given))
    ids = tuple(n if v is None else int(v) for v, n in zip(given, sizes))
    if any(not 0 <= v <= n for v, n in zip(ids, sizes)):
        raise ConfigError(f"factor value ids must be in [0, F_k], got {ids}")
    return ids


def collapsed(net):
    """``net`` with its further factors folded away at "any": every style row of ``Sg`` and ``Sy`` plus each
    factor's "any" row, the factor rows dropped. It equals ``net.with_style(s)`` for every style ``s`` with
    no factor asked (what an export without factor controls needs); ``net`` itself without factors."""
    if not getattr(net, "factors", None):
        return net
    S, any_rows = net.styles, [int(o + n) for o, n in zip(net._offsets(), net.factors)]
    params = dict(net.params)
    for name in ("Sg", "Sy"):
        table = params[name]
        params[name] = table[:S + 1] + table[any_rows].sum(axis=0)  # (S+1, G)
    return type(net)({**net.config, "factors": None}, params)


class StyleView(TrainableModel):
    """A conditional model with its style fixed: an unconditional model to samplers and scorers.

    Shares the model's parameters (read-only); not registered and never saved.
    """

    def __init__(self, model, style: int, factors: tuple[int, ...] | None = None):
        self.model, self.style, self.fixed = model, style, factors
        self.config, self.params = model.config, model.params

    @property
    def normalized(self) -> bool:
        return self.model.normalized

    def _fixed(self, batch):
        B = batch.X.shape[0]
        factors = None if self.fixed is None else np.tile(np.array(self.fixed, dtype=np.int32), (B, 1))
        return replace(batch, styles=np.full(B, self.style, dtype=np.int32), factors=factors)

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        return self.model.forward(self._fixed(batch), state, train=train, rng=rng)

    def backward(self, cache: Cache) -> Params:
        return self.model.backward(cache)

    def initial_state(self, B: int) -> State:
        return self.model.initial_state(B)

    def stepper(self) -> StepFn:
        return self.model.stepper(self.style, self.fixed)

    def describe(self) -> str:
        return f"{self.model.describe()}, style {self.style}" + (f", factors {self.fixed}" if self.fixed else "")
