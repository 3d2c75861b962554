"""Linear interpolation of several models' next-character distributions.

With component models ``P_i`` and weights ``lambda_i`` (non-negative, summing to 1)::

    P(w | h) = sum_i lambda_i P_i(w | h)
    logits   = log P(w | h) = logsumexp_i (log lambda_i + log softmax(logits_i))

The weights are fitted by expectation-maximisation on held-out names
(:func:`fit_weights`): each step sets ``lambda_i`` to the average posterior
responsibility of component ``i`` over all predicted symbols, which never
decreases the held-out likelihood. A neural model and a Kneser-Ney n-gram make
different mistakes, so their mixture beats both.

Of conditional parts (a labelled corpus), a mixture may also keep one weight
vector per style, ``lambda_{s,i}`` (config ``style_weights``), fitted on each
style's validation names with the pooled weights as a prior
(:func:`fit_style_weights`): a style whose network is weak leans on its n-gram.
``with_style(s)`` and batches whose rows carry styles use them; no style uses
the pooled weights.

Parameters are the components' parameters with a prefix (``c0.Wax``,
``c1.keys6``, ...); the state is the components' states one after another.
The mixture is not trained by gradient descent (its parts are trained first).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..vocab import Encoded
from .base import REGISTRY, Cache, Model, State, StepFn, batched_nll
from .layers import log_softmax, logsumexp


class Blend(Model):
    """The per-character interpolation of model objects, built at run time and never saved.

    What a style blend is (``with_style`` views of one model mixed with the
    blend's weights), and the engine of :class:`Mixture`. Parts with weight 0
    are dropped, so a weight of 1 is exactly the part itself.
    """

    normalized: ClassVar[bool] = True

    def __init__(self, parts: list[Model], weights):
        self._set_parts(list(parts), weights)
        self.params = {}
        self.config = {"vocab_size": self.parts[0].vocab_size, "dtype": "float64",
                       "weights": [float(w) for w in np.exp(self._logw)]}

    def _set_parts(self, parts: list[Model], weights) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if len(parts) != w.size or not parts or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
            raise ConfigError("blend weights must be non-negative and sum to 1, one per part")
        keep = np.flatnonzero(w > 0)
        self.parts = [parts[i] for i in keep]
        self._n_state = [len(p.initial_state(1)) for p in self.parts]
        self._logw = np.log(w[keep])

    def describe(self) -> str:
        parts = " + ".join(f"{np.exp(lw):.2f} x {p.describe()}" for lw, p in zip(self._logw, self.parts))
        return f"{self.kind or 'blend'} ({parts})"

    @property
    def styles(self) -> int:
        return max(p.styles for p in self.parts)

    def with_style(self, style: int | None, factors=None) -> Model:
        return _with_factors(self.parts, np.exp(self._logw), style, factors)

    # ----- contract ----------------------------------------------------------------------
    def _row_logw(self, batch) -> np.ndarray | list:
        """``log lambda_i`` per part: the weights (C,), or (C, B, 1) when the rows have their own (styles)."""
        return self._logw

    def _mix(self, logits_list, logws=None) -> np.ndarray:
        """``log sum_i lambda_i P_i``, accumulated part by part with ``logaddexp`` (no (C, ..., V) stack).
        ``logws``: per part, a scalar or (B, 1, 1) per-row log weight (default: the blend's)."""
        out = None
        logws = self._logw if logws is None else logws
        for part, z, logw in zip(self.parts, logits_list, logws):
            z = np.asarray(z, dtype=np.float64)
            lp = (z if part.normalized else log_softmax(z)) + logw  # (..., V) log(lambda_i P_i), a new array
            out = lp if out is None else np.logaddexp(out, lp, out=out)
        return out

    def initial_state(self, B: int) -> State:
        return tuple(s for p in self.parts for s in p.initial_state(B))

    def _split(self, state: tuple) -> list[tuple]:
        out, i = [], 0
        for n in self._n_state:
            out.append(tuple(state[i : i + n]))
            i += n
        return out

    def stepper(self) -> StepFn:
        steps = [p.stepper() for p in self.parts]

        def step(ids: np.ndarray, state: tuple):
            outs = [f(ids, s) for f, s in zip(steps, self._split(state))]
            return self._mix([o[0] for o in outs]), tuple(s for o in outs for s in o[1])

        return step

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        states = self._split(state) if state is not None else [None] * len(self.parts)
        caches = [p.forward(batch, s)[1] for p, s in zip(self.parts, states)]
        logw = self._row_logw(batch)  # (C,) or (C, B, 1)
        logp = self._mix([c["logits"] for c in caches], [w[..., None] if np.ndim(w) else w for w in logw])  # (B, T, V)
        nll = -np.take_along_axis(logp, batch.Y[..., None].astype(np.int64), axis=2)[..., 0] * batch.mask
        final = tuple(s for c in caches for s in c["final_state"])
        return float(nll.sum() / batch.norm), {"logits": logp, "nll": nll, "final_state": final}

    def nll(self, batch, state: State | None = None) -> np.ndarray:
        """The targets' NLL from the parts' own ``nll``: ``-log sum_i lambda_i P_i(y)``, no (B, T, V) array."""
        states = self._split(state) if state is not None else [None] * len(self.parts)
        lp = np.stack([-np.asarray(p.nll(batch, s), dtype=np.float64)
                       for p, s in zip(self.parts, states)])  # (C, B, T) log P_i(y)
        logw = np.asarray(self._row_logw(batch))
        lp += logw if logw.ndim == 3 else logw.reshape(-1, 1, 1)  # (C, B, 1) per row or (C, 1, 1)
        return -logsumexp(lp, axis=0) * batch.mask  # (B, T)


GUIDE_FLOOR = math.log(1e-3)  # log P_style below which guidance leaves a character as the style has it


class Guided(Model):
    """Style guidance, built at run time and never saved: the style's next-character distribution sharpened
    away from the pooled one (classifier-free guidance)::

        log P_g(c | h) = (1 + g) log P_style(c | h) - g log P_pooled(c | h) - log Z(h)    (c a character)
        P_g(end | h) = P_style(end | h)

    over the characters; the end token keeps the style's own probability (guidance changes which letters a
    name uses, not how long it is: guiding the end token too made names run long). ``g = 0`` is ``P_style``
    itself; ``g > 0`` favours the letters that the style prefers *more than names in general do*, which is
    what makes a name sound like its style rather than like the big styles it shares letters with. The
    pooled model is the same network with the style dropped (the "any style" row that style dropout
    trains). Letters the style itself finds rare (``P_style < 1e-3``, ``GUIDE_FLOOR``) keep their style
    probability: the ratio to a pooled probability rarer still would otherwise boost stray accents
    ("Obaűoko" at g = 1 on the world model); a letter the style never writes stays impossible. Several
    styles with weights (a blend) are each guided against the one pooled pass and then interpolated.
    Shapes: logits (B, V) when stepping, (B, T, V) in ``forward``.
    """

    normalized: ClassVar[bool] = True

    def __init__(self, styles: list[Model], weights, pooled: Model, strength: float):
        if not (math.isfinite(strength) and strength >= 0):
            raise ConfigError(f"style_strength must be a finite number >= 0, got {strength!r}")
        w = np.asarray(weights, dtype=np.float64)
        keep = np.flatnonzero(w > 0)
        self.parts = [styles[i] for i in keep] + [pooled]  # the styles, then the pooled model (stepped once)
        self._logw, self.strength = np.log(w[keep] / w[keep].sum()), float(strength)
        self._n_state = [len(p.initial_state(1)) for p in self.parts]
        self.params = {}
        self.config = {"vocab_size": pooled.vocab_size, "dtype": "float64", "strength": self.strength}

    def describe(self) -> str:
        return f"{' + '.join(p.describe() for p in self.parts[:-1])}, guided (strength {self.strength:g})"

    @property
    def styles(self) -> int:
        return self.parts[0].styles

    def _guide_one(self, ls: np.ndarray, lq: np.ndarray) -> np.ndarray:
        """(..., V) one style's guided log-probabilities from its and the pooled log-probabilities."""
        g = self.strength
        with np.errstate(invalid="ignore", divide="ignore"):
            guided = np.where(ls < GUIDE_FLOOR, ls, (1.0 + g) * ls - g * lq)[..., 1:]  # the characters
            out = np.empty_like(ls)
            out[..., 0] = ls[..., 0]  # P(end) is the style's: guidance changes the letters, not the length
            out[..., 1:] = log_softmax(guided) + np.log1p(-np.exp(ls[..., :1]))
        return out

    def _guide(self, logits: list) -> np.ndarray:
        """(..., V) ``log sum_i w_i P_g,i``: each style guided against the one pooled distribution, mixed."""
        lp = [np.asarray(z, dtype=np.float64) for z in logits]
        lp = [z if part.normalized else log_softmax(z) for part, z in zip(self.parts, lp)]
        out = None
        for ls, logw in zip(lp[:-1], self._logw):
            one = self._guide_one(ls, lp[-1]) + logw
            out = one if out is None else np.logaddexp(out, one, out=out)
        return out

    initial_state = Blend.initial_state
    _split = Blend._split

    def stepper(self) -> StepFn:
        steps = [p.stepper() for p in self.parts]

        def step(ids: np.ndarray, state: tuple):
            outs = [f(ids, s) for f, s in zip(steps, self._split(state))]
            return self._guide([o[0] for o in outs]), tuple(s for o in outs for s in o[1])

        return step

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        states = self._split(state) if state is not None else [None] * len(self.parts)
        caches = [p.forward(batch, s)[1] for p, s in zip(self.parts, states)]
        logp = self._guide([c["logits"] for c in caches])  # (B, T, V)
        nll = -np.take_along_axis(logp, batch.Y[..., None].astype(np.int64), axis=2)[..., 0] * batch.mask
        final = tuple(s for c in caches for s in c["final_state"])
        return float(nll.sum() / batch.norm), {"logits": logp, "nll": nll, "final_state": final}

    def nll(self, batch, state: State | None = None) -> np.ndarray:
        return self.forward(batch, state)[1]["nll"]


def _with_factors(parts: list[Model], weights: np.ndarray, style: int | None, factors) -> "Blend":
    """The blend of ``parts`` in ``style``; with a further factor asked (kind, sex), of the parts that learned
    factors only (the networks; an n-gram is counted per style alone and would pull every kind and sex toward
    their mix), their weights renormalised."""
    keep = range(len(parts))
    if factors is not None and any(v is not None for v in factors):
        learned = [i for i, p in enumerate(parts) if getattr(p, "factors", None)]
        keep = learned or keep
    w = np.asarray(weights, dtype=np.float64)[list(keep)]
    return Blend([parts[i].with_style(style, factors) for i in keep], w / w.sum())


class Mixture(Blend):
    """Per-character linear interpolation of registered component models, saved in checkpoints (see the module
    docstring)."""

    kind = "mixture"
    defaults: ClassVar[dict[str, Any]] = {"components": None, "weights": None, "style_weights": None}

    def __init__(self, config: dict, params: dict[str, np.ndarray]):
        Model.__init__(self, config, params)
        parts = []
        for i, comp in enumerate(self.config["components"]):
            cls = REGISTRY[comp["type"]]
            prefix = f"c{i}."
            sub = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
            parts.append(cls.from_arrays(comp["config"], sub))
        self._set_parts(parts, self.config["weights"])
        sw = self.config["style_weights"]
        self._style_logw = None if sw is None else np.log(np.asarray(sw, dtype=np.float64))  # (S, C)

    def with_style(self, style: int | None, factors=None) -> Model:
        if self._style_logw is None or style is None:
            return super().with_style(style, factors)
        return _with_factors(self.parts, np.exp(self._style_logw[style]), style, factors)

    def _row_logw(self, batch):
        if self._style_logw is None or batch.styles is None:
            return self._logw
        ids = np.asarray(batch.styles)  # (B,) a style id, or S for "any style" (the pooled weights)
        table = np.vstack([self._style_logw, self._logw[None]])  # (S + 1, C)
        return table[np.minimum(ids, len(table) - 1)].T[..., None]  # (C, B, 1)

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        comps, weights = out["components"], out["weights"]
        if not isinstance(comps, list) or not 1 <= len(comps) <= 8:
            raise ConfigError("a mixture needs a list of 1 to 8 component models")
        models = REGISTRY
        checked = []
        for comp in comps:
            if not isinstance(comp, dict) or comp.get("type") not in models or comp.get("type") == cls.kind:
                raise ConfigError("mixture components must be registered non-mixture models")
            sub = models[comp["type"]].check_config(comp.get("config") or {})
            if sub["vocab_size"] != out["vocab_size"]:
                raise ConfigError("mixture components must share the vocabulary")
            checked.append({"type": comp["type"], "config": sub})
        out["components"] = checked
        known = sorted({int(c["config"].get("styles") or 0) for c in checked} - {0})
        if len(known) > 1:  # a part asked for a style it does not have would silently answer another
            raise ConfigError(f"mixture components must know the same styles (got {', '.join(map(str, known))})")
        if (not isinstance(weights, list) or len(weights) != len(comps)
                or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 for w in weights)
                or abs(sum(weights) - 1.0) > 1e-6):
            raise ConfigError("mixture weights must be positive and sum to 1, one per component")
        out["weights"] = [float(w) for w in weights]
        sw = out["style_weights"]
        if sw is not None:
            styles = known[0] if known else 0
            if (not isinstance(sw, list) or len(sw) != styles or styles == 0 or not all(
                    isinstance(row, list) and len(row) == len(comps) and all(
                        isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 for w in row)
                    and abs(sum(row) - 1.0) <= 1e-6 for row in sw)):
                raise ConfigError("mixture style weights must be one list of positive weights summing to 1 "
                                  "per style, one weight per component")
            out["style_weights"] = [[float(w) for w in row] for row in sw]
        out["dtype"] = "float64"
        return out

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        models = REGISTRY
        return {f"c{i}.{k}": s for i, comp in enumerate(config["components"])
                for k, s in models[comp["type"]].param_shapes(comp["config"]).items()}

    @classmethod
    def param_dtypes(cls, config: dict) -> dict[str, np.dtype]:
        models = REGISTRY
        return {f"c{i}.{k}": d for i, comp in enumerate(config["components"])
                for k, d in models[comp["type"]].param_dtypes(comp["config"]).items()}

    @classmethod
    def of(cls, models: list[Model], weights, style_weights=None) -> "Mixture":
        """A mixture of already built models with the given weights (and per-style weights, if given)."""
        config = {"vocab_size": models[0].vocab_size,
                  "components": [{"type": m.kind, "config": m.config} for m in models],
                  "weights": [float(w) for w in weights],
                  "style_weights": None if style_weights is None else [[float(w) for w in row]
                                                                       for row in style_weights]}
        params = {f"c{i}.{k}": v for i, m in enumerate(models) for k, v in m.params.items()}
        return cls(config, params)

    def num_params(self) -> int:
        return sum(p.num_params() for p in self.parts)



def component_logprobs(models: list[Model], encoded: Encoded, rows: int = 1024) -> np.ndarray:
    """``log P_i(symbol)`` of every predicted symbol of the encoded names under each model: (C, N)."""
    # the batches (and so the symbols' order) are the same for every model: they share the alphabet
    return np.stack([np.concatenate([-b.nll[b.mask] for b in batched_nll(m, encoded, rows)]) for m in models])


def fit_weights(models: list[Model], encoded: Encoded, iters: int = 100, tol: float = 1e-7) -> list[float]:
    """Mixture weights maximising the likelihood of the encoded (held-out) names, by EM."""
    return em_weights(component_logprobs(models, encoded), iters, tol)


def em_weights(lp: np.ndarray, iters: int = 100, tol: float = 1e-7, prior=None, strength: float = 0.0) -> list[float]:
    """Weights maximising ``sum_n log sum_i w_i exp(lp[i, n])`` for component log-probabilities ``lp (C, N)``,
    by EM. With ``prior`` weights, a Dirichlet MAP estimate: ``strength`` symbols of pseudo-data drawn from
    ``prior`` are added to the counts (and EM starts there), so few symbols keep the weights near ``prior``."""
    C, N = lp.shape
    w0 = np.full(C, 1.0 / C) if prior is None else np.asarray(prior, dtype=np.float64)
    w, prev = w0.copy(), -np.inf
    for _ in range(iters):
        joint = lp + np.log(w)[:, None]  # (C, N)
        total = logsumexp(joint, axis=0)  # (N,)
        objective = (total.sum() + strength * float(w0 @ np.log(w))) / (N + strength)
        w = (np.exp(joint - total).sum(axis=1) + strength * w0) / (N + strength)  # (C,) responsibilities
        w = np.maximum(w, 1e-6)
        w /= w.sum()
        if objective - prev < tol:
            break
        prev = objective
    return [float(x) for x in w]


STYLE_PRIOR = 100.0  # predicted symbols of pseudo-data that pull a style's weights toward the pooled ones


def fit_style_weights(models: list[Model], encoded: Encoded, styles: int, pooled: list[float],
                      prior: float = STYLE_PRIOR) -> list[list[float]]:
    """One weight vector per style, by EM on that style's held-out names (``encoded.styles``), each part
    conditioned on the style; the pooled weights act as ``prior`` symbols of pseudo-data (a Dirichlet
    MAP estimate, :func:`em_weights`), so a style with few validation names keeps weights near the pooled ones."""
    out = []
    for s in range(styles):
        rows = np.flatnonzero(encoded.styles == s) if encoded.styles is not None else np.zeros(0, np.int64)
        if rows.size == 0:
            out.append([float(x) for x in pooled])
            continue
        lp = component_logprobs([m.with_style(s) for m in models], encoded.take(rows))  # (C, N)
        out.append(em_weights(lp, prior=pooled, strength=prior))
    return out
