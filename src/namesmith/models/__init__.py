"""Model registry: every model type namesmith knows, by name.

Adding a model means adding one file and one line here; the CLI choices,
checkpoint loading, sampling and the contract tests all read this registry.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import Model
from .gru import GRU
from .lstm import LSTM
from .mixture import Mixture
from .ngram import NGram
from .rnn import RNN

MODELS: dict[str, type[Model]] = {
    "rnn": RNN,
    "gru": GRU,
    "lstm": LSTM,
    "ngram": NGram,
    "mixture": Mixture,
}


def model_class(kind: str) -> type[Model]:
    try:
        return MODELS[kind]
    except KeyError:
        raise ConfigError(f"unknown model type {kind!r}; choose one of {', '.join(MODELS)}") from None


__all__ = ["MODELS", "Model", "model_class", "RNN", "GRU", "LSTM", "NGram", "Mixture"]
