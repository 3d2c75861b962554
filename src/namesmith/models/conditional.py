"""Conditional (styled) neural models: what the recurrent models, the MLP and the transformer share.

A conditional model has ``styles = S > 0`` in its configuration. Each row of a
batch carries a style id ``s`` in ``[0, S]``, where ``S`` means "any style" (the
pooled model). Each model adds learned per-style rows of its own (an input or
gate bias ``Sg (S+1, ·)`` and an output bias ``Sy (S+1, V)``); during training a
row's style is replaced by ``S`` with probability ``style_dropout``, so the same
network also learns the pooled distribution. ``with_style(s)`` returns a
:class:`StyleView`, the model with its style fixed, which samples, scores and
evaluates like any unconditional model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ConfigError
from .base import Cache, Params, State, StepFn, TrainableModel, float_option, int_option


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
        return out

    @property
    def styles(self) -> int:
        """Number of styles (0: not a conditional model)."""
        return self.config["styles"]

    def with_style(self, style: int | None) -> "TrainableModel":
        """This model with its style fixed (None: the pooled "any style" row); itself when it has no styles."""
        if not self.styles:
            return self  # type: ignore[return-value]
        return StyleView(self, self.styles if style is None else int(style))  # type: ignore[arg-type]

    def _batch_styles(self, batch, train: bool, rng) -> np.ndarray | None:
        """Each row's style id (B,), the pooled id S where the batch has none; style dropout when training."""
        S = self.styles
        if not S:
            return None
        B = batch.X.shape[0]
        s = np.full(B, S, dtype=np.int64) if batch.styles is None else np.asarray(batch.styles, dtype=np.int64)
        if s.shape != (B,) or s.min(initial=0) < 0 or s.max(initial=0) > S:
            raise ConfigError(f"style ids must be in [0, {S}], one per row")
        if train and self.config["style_dropout"] > 0:
            s = np.where(rng.random(B) < self.config["style_dropout"], S, s)  # (B,)
        return s

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
        value[:S0, : old.shape[1]] = old[:S0]
        value[S0:, : old.shape[1]] = old[S0]  # new styles and the pooled row start as the pooled row
        return value

    def _step_style(self, style: int | None) -> int | None:
        """The style row a stepper uses: None for a model without styles, S (pooled) when none is asked."""
        if not self.styles:
            return None
        return self.styles if style is None else int(style)


class StyleView(TrainableModel):
    """A conditional model with its style fixed: an unconditional model to samplers and scorers.

    Shares the model's parameters (read-only); not registered and never saved.
    """

    def __init__(self, model, style: int):
        self.model, self.style = model, style
        self.config, self.params = model.config, model.params

    @property
    def normalized(self) -> bool:
        return self.model.normalized

    def _fixed(self, batch):
        return replace(batch, styles=np.full(batch.X.shape[0], self.style, dtype=np.int32))

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        return self.model.forward(self._fixed(batch), state, train=train, rng=rng)

    def backward(self, cache: Cache) -> Params:
        return self.model.backward(cache)

    def initial_state(self, B: int) -> State:
        return self.model.initial_state(B)

    def stepper(self) -> StepFn:
        return self.model.stepper(self.style)

    def describe(self) -> str:
        return f"{self.model.describe()}, style {self.style}"
