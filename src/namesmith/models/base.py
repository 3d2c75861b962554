"""The model contract every namesmith model follows, and the registry.

Shape legend used in every model file:
    B batch (names)   T time (characters + end token)   V vocabulary
    H hidden units    D embedding size   G gate width (H, 3H or 4H)   L layers

Contract (makemore's idea: sampling, scoring, evaluation, checkpoints and the
trainer never special-case a model). Every model is a :class:`Model`:

* ``params``: ``{name: ndarray}``, the model's only data; ``config``: a JSON-ready
  dict (``vocab_size``, ``dtype`` and the model's own options, see ``defaults``).
* ``forward(batch, state=None, *, train=False, rng=None) -> (loss, cache)``:
  ``loss = sum(token NLL * mask) / batch.norm``; ``cache`` (:class:`Cache`) holds
  ``logits (B, T, V)``, ``nll (B, T)`` (0 on padding) and ``final_state`` (the
  state after each row's last real position). ``rng`` is the generator of the
  training step's random choices (dropout); the trainer always passes one, a
  model without randomness ignores it.
* ``styles`` and ``with_style(s)``: a conditional model reads ``batch.styles (B,)``
  and returns a view with the style fixed; other models ignore styles.
* ``nll(batch, state=None) -> (B, T)``: ``forward``'s ``nll`` alone (scoring and
  evaluation use it; a model may override it with a path that skips the logits).
* ``initial_state(B) -> State``: a tuple of arrays whose first axis is B, so a
  sampler can select or reorder rows with ``tuple(s[idx] for s in state)``.
* ``step(ids (B,), state) -> (logits (B, V), state)``: one position, the numbers
  ``forward`` computes for it. ``stepper()`` returns a function equal to ``step``
  that may precompute what does not depend on the input (tables, transposes); it
  is valid while the parameters do not change (samplers take one per call).
* ``normalized``: True when the logits are already log-probabilities.

Two kinds of model can be built from a corpus (``buildable``, what ``--model`` offers):

* :class:`TrainableModel` (RNN, GRU, LSTM): ``create(config, rng)`` initialises,
  ``backward(cache) -> grads`` returns gradients with the keys and shapes of
  ``params``; the optimizer lives outside the model.
* :class:`FittedModel` (the Kneser-Ney n-gram): ``fit(config, encoded)`` counts.

Other models (the mixture) are assembled from built ones. Models keep no
mutable state besides ``params`` (no stored activations), so one model object can
serve concurrent ``step`` calls from several threads.

Registry: every subclass that sets ``kind`` registers itself in :data:`REGISTRY`
when its module is imported; ``models/__init__.py`` imports them all.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterator, NamedTuple, TypedDict

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..batch import length_sorted_batches, pad
from ..vocab import Encoded

DTYPES = {"float32": np.float32, "float64": np.float64}

Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]  # every array has the batch as its first axis
StepFn = Callable[[np.ndarray, State], tuple[np.ndarray, State]]


class Cache(TypedDict, total=False):
    logits: np.ndarray  # (B, T, V) logits, or log-probabilities when the model is ``normalized``
    nll: np.ndarray  # (B, T) -log p of each target, 0 on padding
    final_state: State  # the state after each row's last real position
    inner: Any  # what the model's backward needs


REGISTRY: dict[str, type["Model"]] = {}


def int_option(config: dict, key: str, lo: int, hi: int) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"model option {key} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def float_option(config: dict, key: str, lo: float, hi: float) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ConfigError(f"model option {key} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


class Model:
    """Base class: the contract (see the module docstring), config handling and parameter checks."""

    kind: ClassVar[str] = ""
    trainable: ClassVar[bool] = False  # has backward(): trained by gradient descent
    buildable: ClassVar[bool] = False  # can be built from a corpus (offered by --model)
    normalized: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {}  # the model's own options; vocab_size and dtype are common

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.kind:
            REGISTRY[cls.kind] = cls

    def __init__(self, config: dict, params: Params):
        self.config = self.check_config(config)
        shapes = self.param_shapes(self.config)
        if set(params) != set(shapes):
            missing = sorted(set(shapes) - set(params))
            extra = sorted(set(params) - set(shapes))
            raise CheckpointError(f"{self.kind} parameters do not match its configuration "
                                  f"(missing {missing}, unexpected {extra})")
        for name, shape in shapes.items():
            if tuple(params[name].shape) != tuple(shape):
                raise CheckpointError(f"{self.kind} parameter {name} has shape {params[name].shape}, "
                                      f"expected {tuple(shape)}")
        self.params = params

    # ----- configuration -------------------------------------------------
    @classmethod
    def check_config(cls, config: dict) -> dict:
        """Fill defaults, validate and return a normalized, JSON-ready copy."""
        if not isinstance(config, dict):
            raise ConfigError(f"a model configuration must be a mapping, got {type(config).__name__}")
        unknown = set(config) - set(cls.defaults) - {"vocab_size", "dtype"}
        if unknown:
            raise ConfigError(f"unknown option(s) for model {cls.kind}: {', '.join(sorted(map(str, unknown)))}")
        out = {**cls.defaults, **config}
        out["vocab_size"] = int_option(out, "vocab_size", 2, 1_000_000)
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
    def from_arrays(cls, config: dict, arrays: Params) -> "Model":
        """Rebuild a model from a checkpoint's arrays (shapes are checked by ``__init__``)."""
        return cls(config, arrays)

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

    # ----- the contract --------------------------------------------------
    def forward(self, batch, state: State | None = None, *, train: bool = False,
                rng: np.random.Generator | None = None) -> tuple[float, Cache]:
        raise NotImplementedError

    @property
    def styles(self) -> int:
        """Number of styles a conditional model knows (0: it has none and ignores ``batch.styles``)."""
        return 0

    def with_style(self, style: int | None, factors=None) -> "Model":
        """This model conditioned on style id ``style`` (None: the pooled "any style" distribution) and, for a
        network with further factors (kind, sex), their value ids ``factors`` (None entries: any value; a
        model without factors ignores them).

        The result follows this same contract with the style fixed, so samplers and
        scorers need nothing else; a model without styles returns itself.
        """
        return self

    def nll(self, batch, state: State | None = None) -> np.ndarray:
        """``(B, T)`` NLL of each target (0 on padding), as ``forward`` computes it: all that scoring needs.

        A model may compute it without the ``(B, T, V)`` logits (the n-gram looks up
        only the targets; the mixture combines its parts' ``nll``), which keeps
        evaluation linear in the number of names and free of V.
        """
        return self.forward(batch, state)[1]["nll"]

    def initial_state(self, B: int) -> State:
        raise NotImplementedError

    def step(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        return self.stepper()(ids, state)

    def stepper(self) -> StepFn:
        raise NotImplementedError


class TrainableModel(Model):
    """A model trained by gradient descent: ``create`` and ``backward``."""

    trainable = True
    buildable = True

    @classmethod
    def create(cls, config: dict, rng: np.random.Generator) -> "TrainableModel":
        """A freshly initialised model."""
        raise NotImplementedError

    def backward(self, cache: Cache) -> Params:
        raise NotImplementedError


class FittedModel(Model):
    """A model fitted from counts in one pass: ``fit``."""

    buildable = True

    @classmethod
    def fit(cls, config: dict, encoded: Encoded, val: Encoded | None = None) -> "FittedModel":
        raise NotImplementedError


def model_class(kind: str) -> type[Model]:
    try:
        return REGISTRY[kind]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model type {kind!r}; choose one of {', '.join(buildable_kinds())}") from None


def buildable_kinds() -> list[str]:
    """The model types that can be built from a corpus (what ``--model`` offers)."""
    return [k for k, cls in REGISTRY.items() if cls.buildable]


class ScoredBatch(NamedTuple):
    idx: np.ndarray  # (B,) which names of the encoded list
    nll: np.ndarray  # (B, T) float64: -log P of each predicted symbol, 0 on padding
    mask: np.ndarray  # (B, T) bool: real symbols (the end token included)


def batched_nll(model: Model, encoded: Encoded, rows: int = 1024) -> Iterator[ScoredBatch]:
    """The per-symbol NLL of every encoded name, in length-sorted batches of at most ``rows`` names.

    The one evaluation pass that held-out NLL (training), scoring and mixture
    weights share: batches padded in the model's dtype, NLL returned as float64 so
    sums over many names do not lose precision, overflow left to the caller to
    judge (a non-finite value is returned, not raised).
    """
    with np.errstate(all="ignore"):
        for idx in length_sorted_batches(encoded, rows, model.vocab_size):
            batch = pad(encoded, idx, dtype=model.dtype, norm="sum")
            yield ScoredBatch(idx, model.nll(batch).astype(np.float64), batch.mask.astype(bool))
