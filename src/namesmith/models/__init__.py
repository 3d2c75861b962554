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

PLAIN = {"rnn": ("recurrent network", "recurrent networks"), "gru": ("GRU network", "GRU networks"),
         "lstm": ("LSTM network", "LSTM networks"), "transformer": ("transformer", "transformers"),
         "mlp": ("MLP network", "MLP networks"), "ngram": ("n-gram", "n-grams"),
         "ngram-styled": ("n-gram per style", "n-grams per style")}


def summary(model: Model) -> str:
    """What a model is in plain words, for people: ``"5 LSTM networks + 2 n-grams, 1,816,984 parameters"``
    (``describe()`` is the engineer's version, with weights and shapes)."""
    kinds = [p.kind for p in model.parts] if model.kind == "mixture" else [model.kind]
    counted = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    words = [f"{n} {PLAIN.get(k, (k, k + 's'))[1]}" if n > 1 else PLAIN.get(k, (k, k))[0] for k, n in counted.items()]
    return f"{' + '.join(words)}, {model.num_params():,} parameters"
