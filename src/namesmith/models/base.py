"""The model contract every namesmith model follows.

Shape legend used in every model file:
    B batch (names)   T time (characters + end token)   V vocabulary
    H hidden units    D embedding size   G gate width (H, 3H or 4H)   L layers

Contract (makemore's idea: sampling, scoring, evaluation, checkpoints and the
trainer never special-case a model):

* ``params`` is a ``{name: ndarray}`` dict; ``backward`` returns gradients in a
  dict with exactly the same keys and shapes. The optimizer lives outside.
* ``forward(batch, state=None, train=False, rng=None) -> (loss, cache)``: loss
  is ``sum(token NLL * mask) / batch.norm``. ``cache`` is a dict that holds at
  least ``"logits"`` (B, T, V), ``"nll"`` (B, T) per-token NLL (0 on padding)
  and ``"final_state"`` (the state after each row's last real position).
* ``backward(cache) -> grads``.
* ``initial_state(B) -> state``: a tuple of arrays whose first axis is B, so a
  sampler can select or reorder rows with ``tuple(s[idx] for s in state)``.
* ``step(ids, state) -> (logits, state)``: one position for a batch of ids
  (B,), the same numbers ``forward`` computes for that position.
* ``stepper()`` (optional) returns a function equivalent to ``step`` that may
  precompute what does not depend on the input (tables, transposes), valid while
  the parameters do not change; samplers take one per generation call.

Models keep no mutable state other than ``params`` (no stored activations): a
model object can serve concurrent ``step`` calls from several threads.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import CheckpointError, ConfigError

DTYPES = {"float32": np.float32, "float64": np.float64}


def _int(config: dict, key: str, lo: int, hi: int) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"model option {key} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def _float(config: dict, key: str, lo: float, hi: float) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ConfigError(f"model option {key} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


class Model:
    """Base class: config handling, parameter bookkeeping and the contract's docs."""

    kind: ClassVar[str] = "?"
    trainable: ClassVar[bool] = True
    #: True when ``forward``/``step`` return normalized log-probabilities rather than raw logits
    normalized: ClassVar[bool] = False
    #: default hyperparameters (``vocab_size`` is always filled in from the vocabulary)
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: dict, params: dict[str, np.ndarray]):
        self.config = self.check_config(config)
        shapes = self.param_shapes(self.config)
        if set(params) != set(shapes):
            missing = sorted(set(shapes) - set(params))
            extra = sorted(set(params) - set(shapes))
            raise CheckpointError(
                f"{self.kind} parameters do not match its configuration "
                f"(missing {missing}, unexpected {extra})"
            )
        for name, shape in shapes.items():
            if tuple(params[name].shape) != tuple(shape):
                raise CheckpointError(
                    f"{self.kind} parameter {name} has shape {params[name].shape}, "
                    f"expected {tuple(shape)}"
                )
        self.params = params

    # ----- configuration -------------------------------------------------
    @classmethod
    def check_config(cls, config: dict) -> dict:
        """Fill defaults, validate and return a normalized, JSON-ready copy."""
        unknown = set(config) - set(cls.defaults) - {"vocab_size", "dtype"}
        if unknown:
            raise ConfigError(f"unknown option(s) for model {cls.kind}: {', '.join(sorted(unknown))}")
        out = {**cls.defaults, **config}
        out["vocab_size"] = _int(out, "vocab_size", 2, 100_000)
        out.setdefault("dtype", "float64")
        if out["dtype"] not in DTYPES:
            raise ConfigError(f"dtype must be one of {sorted(DTYPES)}, got {out['dtype']!r}")
        return out

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    @classmethod
    def param_dtypes(cls, config: dict) -> dict[str, np.dtype]:
        """The dtype every stored parameter must have (checked when loading)."""
        dtype = np.dtype(DTYPES[config["dtype"]])
        return {name: dtype for name in cls.param_shapes(config)}

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict[str, np.ndarray]) -> "Model":
        """Rebuild a model from a checkpoint's arrays (shapes are checked by ``__init__``)."""
        return cls(config, arrays)

    @classmethod
    def create(cls, config: dict, rng: np.random.Generator) -> "Model":
        """A freshly initialised model."""
        raise NotImplementedError

    # ----- conveniences --------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        return np.dtype(DTYPES[self.config["dtype"]])

    @property
    def vocab_size(self) -> int:
        return self.config["vocab_size"]

    def num_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def describe(self) -> str:
        return f"{self.kind} ({self.num_params():,} parameters)"

    def astype(self, dtype: str) -> "Model":
        """A copy of this model computing in another float dtype."""
        config = {**self.config, "dtype": dtype}
        return type(self)(config, {k: v.astype(DTYPES[dtype]) for k, v in self.params.items()})

    # ----- the contract --------------------------------------------------
    def forward(self, batch, state=None, *, train: bool = False, rng=None):
        raise NotImplementedError

    def backward(self, cache) -> dict[str, np.ndarray]:
        raise NotImplementedError(f"{self.kind} models are not trained by gradient descent")

    def initial_state(self, B: int) -> tuple:
        raise NotImplementedError

    def step(self, ids: np.ndarray, state: tuple):
        raise NotImplementedError

    def stepper(self):
        """A function equivalent to :meth:`step` while the parameters stay unchanged (see above)."""
        return self.step

    # ----- extras a model may need in its checkpoint ----------------------
    def extra_arrays(self) -> dict[str, np.ndarray]:
        """Non-parameter arrays the model needs to be rebuilt (none for neural models)."""
        return {}
