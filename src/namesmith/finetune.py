"""Fine-tuning (``--init-from``): what a small list starts from, and what it takes from its base.

The base is a trained checkpoint (a file or a shipped model's name). Its network's
architecture options replace the run's (giving a different one is an error), its
regularisers are kept unless the user gives them, and the network grows rows for the
list's new characters and styles (:meth:`~namesmith.models.conditional.Conditional.expanded`).
An unlabelled list on a styled base starts as the styles it sounds like
(:meth:`Base.sounds_like`), and the base's n-gram of that style joins the fine-tuned
mixture as one more part (:meth:`Base.ngram`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from .checkpoint import CheckpointData
from .config import ARCHITECTURE, REGULARIZERS, TrainConfig
from .corpus import display_name
from .errors import ConfigError
from .models import Model
from .pretrained import load_model_file
from .score import prepare_names
from .styles import posterior
from .train import STREAM_INIT, TrainData, stream


@dataclass
class Base:
    """What ``--init-from`` starts from: the base checkpoint, its network, and what was already said of it."""

    ck: CheckpointData
    network: Model
    source: str
    said: bool = False  # the styles the list sounds like were logged (once, not once per fold)
    heard: dict[tuple[str, ...], np.ndarray | None] = field(default_factory=dict)  # names -> their styles

    def sounds_like(self, names: Sequence[str]) -> np.ndarray | None:
        """The styles an unlabelled list sounds like to the base (:func:`list_styles`), computed once per list."""
        key = tuple(names)
        if key not in self.heard:
            self.heard[key] = list_styles(self.ck, key)
        return self.heard[key]

    def ngram(self, data: TrainData) -> tuple[list[Model], str]:
        """The base's n-gram as a fixed part of a fine-tuned list's mixture, and what the log says of it.

        An unlabelled list takes the base's n-gram (of a styled base, the n-gram of the
        style the list sounds most like, without the pooled counts); the mixture's EM
        gives it its weight. Nothing for a labelled list (its styled n-gram is fitted
        on it) or when the list adds characters the base's counts never saw.
        """
        grams = [p for p in getattr(self.ck.model, "parts", [self.ck.model]) if not p.trainable]
        if not grams or data.encoded.styles is not None:
            return [], ""
        gram, what = grams[0], "the base's n-gram"
        if gram.vocab_size != data.vocab.size:
            return [], "; the base's n-gram is left out (the list adds characters it never counted)"
        post = self.sounds_like(data.train.names) if gram.styles else None
        if post is not None:
            top = int(np.argmax(post))
            gram, what = gram.parts[top], f"the base's n-gram of {self.ck.styles[top]}"
        elif gram.styles:
            gram = gram.pooled
        return [gram], f" and {what}"

    def grown(self, cfg: TrainConfig, data: TrainData, log: Callable[[str], None]) -> Model:
        """The base network with rows for this corpus's new characters and styles; says what was kept and added."""
        training = {k: getattr(cfg, k) for k in REGULARIZERS if k in self.network.config}
        net = self.network.expanded(data.vocab.size, len(data.styles), stream(cfg.seed, STREAM_INIT), **training)
        if net.styles and data.encoded.styles is None:  # an unlabelled list: start as the styles it sounds like
            post = self.sounds_like(data.train.names)
            if post is not None:
                net = net.pooled_from(post)
                if not self.said:  # once, not once per fold
                    self.said = True
                    top = np.argsort(-post)[:3]
                    log("the list sounds most like " + ", ".join(f"{self.ck.styles[i]} {post[i]:.0%}" for i in top)
                        + "; its training starts from that blend of styles")
        new_chars = data.vocab.chars[self.ck.vocab.size:]
        new_styles = data.styles[len(self.ck.styles):]
        log(f"fine-tuning {display_name(self.source)} ({self.network.describe()}): kept all of its weights, "
            f"its {self.ck.vocab.size - 1} characters and {len(self.ck.styles)} styles; added "
            + (f"{len(new_chars)} characters ({' '.join(new_chars)})" if new_chars else "no characters")
            + ", " + (f"{len(new_styles)} styles ({', '.join(new_styles)})" if new_styles else "no styles")
            + ("; the n-gram of the mixture is fitted on this list" if cfg.mix_ngram else ""))
        return net


def finetune_base(cfg: TrainConfig, given: set[str]) -> tuple[Base, TrainConfig]:
    """The base checkpoint of ``--init-from`` and the configuration with its architecture.

    The network is the base's trainable part (a mixture's neural component); its
    architecture options replace the run's, and giving a different one is an error.
    Its regularisers (dropout, ...) are kept unless ``given`` (the options the user set) names them.
    """
    base = load_model_file(cfg.init_from)
    nets = [p for p in getattr(base.model, "parts", [base.model]) if p.trainable]
    if not nets:
        raise ConfigError(f"{cfg.init_from}: fine-tuning needs a neural network to start from, and this is a "
                          f"{base.model.kind} model (train the small list directly, e.g. --model ngram)")
    net = nets[0]
    arch = {"model": net.kind, **{k: net.config[k] for k in ARCHITECTURE if k != "model" and k in net.config}}
    clash = [k for k in arch if k in given and getattr(cfg, k) != arch[k]]
    if clash:
        raise ConfigError(f"fine-tuning keeps the base model's architecture (--{clash[0].replace('_', '-')} "
                          f"{arch[clash[0]]}); leave --{clash[0].replace('_', '-')} out")
    kept = {k: net.config[k] for k in REGULARIZERS if k in net.config and k not in given}
    return Base(base, net, cfg.init_from), replace(cfg, **arch, **kept).validate()


def list_styles(ck: CheckpointData, names, most: int = 2000) -> np.ndarray | None:
    """The mean of ``p(style | name)`` (uniform prior) over (at most ``most`` of) ``names``: the styles an
    unlabelled list sounds like to a styled model; None when no name can be scored."""
    names = list(names)[:: max(1, math.ceil(len(names) / most))]
    prep = prepare_names(ck.vocab, names, ck.lowercase, False)
    if not prep.ok:
        return None
    post = posterior(ck.model, ck.vocab, [prep.names[i] for i in prep.ok], styles=ck.styles,
                     uniform_prior=True).mean(axis=0)  # (S,)
    return post / post.sum()
