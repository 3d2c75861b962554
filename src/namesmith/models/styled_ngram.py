"""Kneser-Ney per style, interpolated with the pooled Kneser-Ney model (a hierarchical prior).

For a labelled corpus with styles ``s = 0 .. S-1``::

    P_s(w | h) = lambda_s P_KN,s(w | h) + (1 - lambda_s) P_KN,pooled(w | h)

``P_KN,s`` is fitted on the names of style ``s`` alone (the pooled model stands
in for a style without names here, as when a small list fine-tunes a styled base),
``P_KN,pooled`` on all names; ``lambda_s`` maximises the likelihood of the style's validation names
(EM, :func:`~namesmith.models.mixture.fit_weights`), so a small style leans on
the pooled model and a large one on its own counts. No style (``with_style(None)``)
is the pooled model. Parameters: the pooled tables as ``p.<name>`` and each
style's as ``s<i>.<name>`` (the :class:`~namesmith.models.ngram.NGram` names).
Not offered by ``--model``: ``--model ngram`` on a labelled corpus builds it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..vocab import Encoded
from .base import REGISTRY, Cache, FittedModel, Model, State, StepFn, int_option
from .mixture import Blend, fit_weights
from .ngram import NGram


class StyledNGram(FittedModel):
    """Per-style Kneser-Ney interpolated with the pooled one (see module docstring)."""

    kind = "ngram-styled"
    buildable = False
    normalized: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"order": 6, "discount": None, "styles": 1, "weights": None,
                                          "pooled": None, "parts": None}

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        S = out["styles"] = int_option(out, "styles", 1, 100_000)
        w = out["weights"] if out["weights"] is not None else [0.5] * S
        if (not isinstance(w, list) or len(w) != S or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < 1 for x in w)):
            raise ConfigError("styled n-gram weights must be numbers in (0, 1), one per style")
        out["weights"] = [float(x) for x in w]
        base = {"vocab_size": out["vocab_size"], "order": out["order"], "discount": out["discount"]}
        out["pooled"] = NGram.check_config({**base, **(out["pooled"] or {})})
        parts = out["parts"] if out["parts"] is not None else [{}] * S
        if not isinstance(parts, list) or len(parts) != S or not all(isinstance(p, dict) for p in parts):
            raise ConfigError("styled n-gram parts are malformed")
        out["parts"] = [NGram.check_config({**base, **p}) for p in parts]
        return out

    @classmethod
    def _prefixed(cls, config: dict, what) -> dict:
        out = {f"p.{k}": v for k, v in what(config["pooled"]).items()}
        for i, part in enumerate(config["parts"]):
            out.update({f"s{i}.{k}": v for k, v in what(part).items()})
        return out

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        return cls._prefixed(config, NGram.param_shapes)

    @classmethod
    def param_dtypes(cls, config: dict) -> dict[str, np.dtype]:
        return cls._prefixed(config, NGram.param_dtypes)

    @staticmethod
    def _sub(params: dict, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}

    def __init__(self, config: dict, params: dict[str, np.ndarray], models: tuple | None = None, build=NGram):
        super().__init__(config, params)
        if models is None:  # (pooled, [style 0, style 1, ...]) from the prefixed tables
            models = (build(self.config["pooled"], self._sub(params, "p.")),
                      [build(c, self._sub(params, f"s{i}.")) for i, c in enumerate(self.config["parts"])])
        self.pooled, self.parts = models

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict[str, np.ndarray]) -> "StyledNGram":
        return cls(config, arrays, build=NGram.from_arrays)  # every table's distributions checked

    def describe(self) -> str:
        n = sum(self.params[k].size for k in self.params if ".pair" in k)
        return f"ngram (order {self.config['order']}, {self.styles} styles + pooled, {n:,} n-grams)"

    # ----- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, config: dict, encoded: Encoded, val: Encoded | None = None) -> "StyledNGram":
        """The pooled model on every name, one per style on its names; weights fitted on ``val``'s styles."""
        config = cls.check_config({k: v for k, v in config.items() if k in cls.defaults or k == "vocab_size"})
        S = config["styles"]
        if encoded.styles is None:
            raise ConfigError("a styled n-gram needs names labelled with styles")
        base = {"vocab_size": config["vocab_size"], "order": config["order"], "discount": config["discount"]}
        pooled = NGram.fit(base, encoded)
        parts = []
        for s in range(S):
            mine = np.flatnonzero(encoded.styles == s)  # none: a style known only to a fine-tuned base network
            parts.append(NGram.fit(base, encoded.take(mine)) if mine.size else pooled)
        weights = [0.5] * S
        if val is not None and val.styles is not None:
            for s in range(S):
                mine = np.flatnonzero(val.styles == s)
                if mine.size:
                    lam = fit_weights([parts[s], pooled], val.take(mine))[0]
                    weights[s] = float(min(max(lam, 1e-4), 1 - 1e-4))
        params = {f"p.{k}": v for k, v in pooled.params.items()}
        for i, part in enumerate(parts):
            params.update({f"s{i}.{k}": v for k, v in part.params.items()})
        config.update(weights=weights, pooled=pooled.config, parts=[p.config for p in parts])
        return cls(config, params, models=(pooled, parts))

    @property
    def order(self) -> int:
        return self.config["order"]

    # ----- styles ------------------------------------------------------------------------------
    @property
    def styles(self) -> int:
        return self.config["styles"]

    def with_style(self, style: int | None, factors=None) -> Model:  # counted per style only: factors unused
        if style is None or style == self.styles:
            return self.pooled
        lam = self.config["weights"][style]
        return Blend([self.parts[style], self.pooled], [lam, 1.0 - lam])

    # ----- the contract: the pooled model, or each row's style where the batch has them -------------
    def initial_state(self, B: int) -> State:
        return self.pooled.initial_state(B)

    def stepper(self) -> StepFn:
        return self.pooled.stepper()

    def _groups(self, batch):
        """(rows, their style's view, the rows as a batch without styles) for each style in the batch."""
        for s in np.unique(batch.styles):
            rows = np.flatnonzero(batch.styles == s)
            yield rows, self.with_style(int(s)), replace(batch, X=batch.X[rows], Y=batch.Y[rows],
                                                         mask=batch.mask[rows], styles=None)

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        if batch.styles is None or state is not None:
            return self.pooled.forward(batch, state)
        B, T = batch.X.shape
        logits, nll = np.empty((B, T, self.vocab_size)), np.zeros((B, T))  # (B, T, V), (B, T)
        final = self.pooled.initial_state(B)[0].copy()  # (B, N-1): every view's last part is the pooled model
        for rows, view, sub in self._groups(batch):
            cache = view.forward(sub)[1]
            logits[rows], nll[rows], final[rows] = cache["logits"], cache["nll"], cache["final_state"][-1]
        return float(nll.sum() / batch.norm), {"logits": logits, "nll": nll, "final_state": (final,)}

    def nll(self, batch, state: State | None = None) -> np.ndarray:
        if batch.styles is None or state is not None:
            return self.pooled.nll(batch, state)
        out = np.zeros(batch.Y.shape)  # (B, T)
        for rows, view, sub in self._groups(batch):
            out[rows] = view.nll(sub)
        return out


assert REGISTRY["ngram-styled"] is StyledNGram
