"""A checkpoint's metadata, typed: one dataclass per section, built by one constructor, validated on load.

The JSON entry of a checkpoint (``__meta__``) holds, besides the model's type and
configuration and the vocabulary (:mod:`namesmith.checkpoint`), one object per section:

* ``run``: the id of the run that wrote the file and when it started (:mod:`namesmith.runfiles`);
* ``train``: the resolved training configuration and the loop's state (step, best
  validation NLL, early-stopping count, the loss window), why it stopped, and for the
  seed recipe, an n-gram fit or an ensemble their own fields;
* ``optimizer``: its type, step count and hyperparameters (its moment arrays are ``optim/*``);
* ``rng``: the seed every random stream derives from, and the scheme;
* ``corpus``: the training corpus (source, fingerprint, sizes, case);
* ``metrics``: validation NLL (of the final model, the network alone, each network);
* ``styles``: a conditional model's style names and training counts.

The type hints below are the schema: :func:`from_dict` checks every field against
them (whole numbers below 2**63, finite numbers, bounded text, lists of the right
element type), so a hostile file cannot make a later command crash. Unknown keys are
kept aside, untouched, for files of later versions.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from .errors import CheckpointError

MAX_TEXT = 100_000


@dataclass
class RunInfo:
    id: str
    started: str = ""


@dataclass
class TrainInfo:
    config: dict = field(default_factory=dict)  # the resolved TrainConfig (or the seed recipe's settings)
    step: int = 0
    epoch: float | None = None
    best_val_nll: float | None = None
    evals_since_best: int = 0
    window: list[float] = field(default_factory=lambda: [0.0, 0, 0])  # NLL sum, tokens, steps since the last log
    stopped: str | None = None  # steps | time limit | early stopping | fitted | folds | ensemble | interrupted
    recipe: str | None = None  # "seed": the notebook reproduced
    fit_seconds: float | None = None  # a model fitted from counts
    ensemble: list[str] | None = None  # the runs an ensemble mixed

    def __post_init__(self):
        if len(self.window) != 3:
            raise CheckpointError("metadata field train.window must hold 3 numbers")


@dataclass
class OptimizerInfo:
    type: str
    t: int = 0
    hyper: dict = field(default_factory=dict)


@dataclass
class RngInfo:
    seed: int | None = None
    scheme: str = ""


@dataclass
class CorpusInfo:
    source: str | None = None
    name: str | None = None
    fingerprint: str | None = None
    names: int = 0
    chars: int = 0
    val_source: str | None = None
    val_names: int = 0
    lowercase: bool | None = None
    alphabet: str | None = None  # a model fine-tuned on an unlabelled list: the characters the list uses


@dataclass
class Metrics:
    val_nll: float | None = None
    neural_val_nll: float | None = None
    member_val_nll: list[float] | None = None


@dataclass
class StylesInfo:
    names: list[str]
    counts: list[int]
    # further factors of a network trained on a headed labelled corpus: column -> its values (id = index)
    factors: dict[str, list[str]] = field(default_factory=dict)
    # style -> the factor values its training names hold together ("surname/female": column values joined
    # by "/", blank for a blank value); full names ask a surname's sex only where the style's surnames have one
    combinations: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        if len(set(self.names)) != len(self.names) or len(self.counts) != len(self.names):
            raise CheckpointError("metadata field styles: names must be distinct, one count each")
        if any(not v or len(set(v)) != len(v) for v in self.factors.values()):
            raise CheckpointError("metadata field styles.factors: each factor lists distinct values")


@dataclass
class RunMeta:
    """Everything a checkpoint records about where its model came from (see the module docstring)."""

    run: RunInfo | None = None
    train: TrainInfo = field(default_factory=TrainInfo)
    optimizer: OptimizerInfo | None = None
    rng: RngInfo = field(default_factory=RngInfo)
    corpus: CorpusInfo = field(default_factory=CorpusInfo)
    metrics: Metrics = field(default_factory=Metrics)
    styles: StylesInfo | None = None
    other: dict = field(default_factory=dict)  # sections this version does not know, kept as they were

    def to_dict(self) -> dict:
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "other"}
        return {**self.other, **{k: v for k, v in out.items() if v is not None}}

    @classmethod
    def from_dict(cls, doc: Any) -> "RunMeta":
        """The typed metadata of a JSON object, every known field checked; a CheckpointError names the first
        bad one."""
        if not isinstance(doc, dict):
            raise CheckpointError("the metadata is not a JSON object")
        known = {f.name for f in fields(cls)} - {"other"}
        values = {k: _typed(v, _hints(cls)[k], k) for k, v in doc.items() if k in known}
        return cls(**values, other={k: v for k, v in doc.items() if k not in known and k not in RESERVED})


RESERVED = ("format", "version", "namesmith", "model", "vocab")  # the checkpoint's own keys


def _plain(value):
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _typed(value, hint, where: str):
    """``value`` checked against the type ``hint`` (and turned into its dataclass), or a CheckpointError."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint) or hint
    if is_dataclass(origin):
        if not isinstance(value, dict):
            raise _bad(where, value)
        own = _hints(origin)
        names = {f.name for f in fields(origin)}
        try:
            return origin(**{k: _typed(v, own[k], f"{where}.{k}") for k, v in value.items() if k in names})
        except TypeError:  # a required field is missing
            raise CheckpointError(f"metadata section {where} misses a required field") from None
    if origin is list:
        (element,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list) or len(value) > 10_000_000:
            raise _bad(where, value)
        return [_typed(v, element, f"{where}[]") for v in value] if element is not Any else value
    if _ok(origin, value):
        return value
    raise _bad(where, value)


def _ok(t, v) -> bool:
    if t is str:
        return isinstance(v, str) and len(v) <= MAX_TEXT
    if t is bool:
        return isinstance(v, bool)
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63
    if t is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if t is dict:
        return isinstance(v, dict)
    return t is Any


def _bad(where: str, value) -> CheckpointError:
    return CheckpointError(f"metadata field {where} has an invalid value {value!r:.60}")
