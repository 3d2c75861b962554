"""Model registry: every model type namesmith knows, by name.

Each model class registers itself (``Model.__init_subclass__``) when its module
is imported; importing this package imports them all. Adding a model means
adding one file and one import here; the CLI choices, checkpoint loading,
sampling and the contract tests all read :data:`MODELS`.
"""

from __future__ import annotations

from .base import REGISTRY, FittedModel, Model, TrainableModel, buildable_kinds, model_class

# the import order is the order models are listed in (--model choices, docs)
from .rnn import RNN  # noqa: I001
from .gru import GRU
from .lstm import LSTM
from .mlp import MLP
from .transformer import Transformer
from .ngram import NGram
from .mixture import Mixture
from .styled_ngram import StyledNGram

MODELS = REGISTRY

__all__ = ["MODELS", "Model", "TrainableModel", "FittedModel", "model_class", "buildable_kinds",
           "RNN", "GRU", "LSTM", "MLP", "Transformer", "NGram", "Mixture", "StyledNGram"]
