"""Scoring names and evaluating a model on a corpus (held-out NLL).

The unit is the **nat per character**, end token included: a name of n
characters contributes n + 1 predictions (its characters, then the end token),
and the corpus NLL is the sum of ``-log p`` over all predictions divided by
their number. Bits per character = nats / ln 2; perplexity = exp(nats).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

import numpy as np

from .batch import make_batch
from .models.base import Model
from .vocab import Vocab

LN2 = math.log(2.0)


def perplexity(nll: float) -> float:
    """``exp(nll)``; infinite instead of an overflow error for absurd values."""
    return math.exp(nll) if nll < 700 else math.inf


def per_name_nll(model: Model, encoded: list[np.ndarray], batch_size: int = 1024) -> list[np.ndarray]:
    """Per-prediction NLL of each encoded name (array of length len + 1), via batched ``forward``.

    Names are processed in order of length so batches carry little padding.
    """
    order = np.argsort([len(e) for e in encoded], kind="stable")
    out: list[np.ndarray] = [None] * len(encoded)  # type: ignore[list-item]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = make_batch([encoded[i] for i in idx], dtype=model.dtype, norm="sum")
        _, cache = model.forward(batch)
        nll = cache["nll"].astype(np.float64)  # (B, T)
        for row, i in enumerate(idx):
            out[i] = nll[row, : len(encoded[i]) + 1]
    return out


def evaluate(model: Model, vocab: Vocab, names, batch_size: int = 1024) -> dict:
    """Mean NLL per character (nats, end token included) of ``names`` under ``model``."""
    encoded = [vocab.encode(n) for n in names]
    with np.errstate(over="ignore", invalid="ignore"):
        nlls = per_name_nll(model, encoded, batch_size)
        total = float(sum(x.sum() for x in nlls))
    tokens = sum(len(e) + 1 for e in encoded)
    nll = total / tokens
    return {
        "nll": nll,
        "bits_per_char": nll / LN2,
        "perplexity": perplexity(nll),
        "names": len(encoded),
        "chars": tokens - len(encoded),
        "tokens": tokens,
    }


def nll_quantiles(model: Model, vocab: Vocab, names, points: int = 1001) -> np.ndarray:
    """Quantiles of the per-name nats/char over ``names`` (kept in checkpoints for percentiles)."""
    encoded = [vocab.encode(n) for n in names]
    per_char = np.array([x.mean() for x in per_name_nll(model, encoded)])
    return np.quantile(per_char, np.linspace(0.0, 1.0, points))


@dataclass
class NameScore:
    name: str
    logprob: float  # natural log of P(name + end token)
    nats_per_char: float
    surprisal: list[tuple[str, float]]  # (character or "<end>", -log p in nats) per prediction
    percentile: float | None  # % of training names the model finds less plausible

    def to_dict(self) -> dict:
        return {"name": self.name, "logprob": self.logprob, "nats_per_char": self.nats_per_char,
                "surprisal": [{"char": c, "nats": s} for c, s in self.surprisal], "percentile": self.percentile}


def percentile_of(nats_per_char: float, quantiles: np.ndarray | None) -> float | None:
    """Share (in %) of training names with a higher nats/char than this one."""
    if quantiles is None or quantiles.size < 2:
        return None
    levels = np.linspace(0.0, 1.0, quantiles.size)
    below = float(np.interp(nats_per_char, quantiles, levels, left=0.0, right=1.0))
    return round(100.0 * (1.0 - below), 1)


def score_names(
    model: Model,
    vocab: Vocab,
    names: list[str],
    *,
    quantiles: np.ndarray | None = None,
    lowercase: bool | None = None,
) -> list[NameScore]:
    """Score each name. Unknown characters raise :class:`~namesmith.errors.VocabError` naming them."""
    if lowercase is None:
        lowercase = not any(c.isupper() for c in vocab.chars)
    clean = []
    for n in names:
        n = unicodedata.normalize("NFC", n.strip())
        clean.append(unicodedata.normalize("NFC", n.lower()) if lowercase else n)
    encoded = [vocab.encode(n) for n in clean]
    out = []
    for name, nll in zip(clean, per_name_nll(model, encoded)):
        total = float(nll.sum())
        per_char = total / len(nll)
        labels = list(name) + ["<end>"]
        out.append(NameScore(
            name,
            -total,
            per_char,
            [(c, float(s)) for c, s in zip(labels, nll)],
            percentile_of(per_char, quantiles),
        ))
    return out


def generation_report(sampler, corpus_names, n: int, *, seed: int = 0,
                      temperatures=(0.5, 0.8, 1.0), max_len: int = 50) -> list[dict]:
    """Statistics of ``n`` generated names at each temperature, against ``corpus_names``.

    * ``novel``: share of samples that are not training names;
    * ``unique``: distinct samples / samples;
    * ``heldout_real``: share of samples that are real names of the corpus held
      out from training (in ``corpus_names`` but not in the training data);
    * ``length_tv``: total-variation distance between the length distributions
      of the samples and of the corpus (0 = identical, 1 = disjoint).
    """
    from .corpus import in_hashes
    from .sample import SampleOptions

    corpus_set = set(corpus_names)
    train_hashes = sampler.train_hashes
    lengths_real = np.bincount([len(x) for x in corpus_names], minlength=max_len + 1)[: max_len + 1]
    p_real = lengths_real / max(lengths_real.sum(), 1)
    rows = []
    for temp in temperatures:
        report = sampler.sample(n, SampleOptions(temperature=temp, max_len=max_len), seed=seed)
        names = [s.name for s in report.samples]
        known = in_hashes(names, train_hashes) if train_hashes is not None else np.zeros(len(names), bool)
        heldout = np.array([(nm in corpus_set) and not k for nm, k in zip(names, known)])
        lens = np.bincount([len(x) for x in names], minlength=max_len + 1)[: max_len + 1]
        p_gen = lens / max(lens.sum(), 1)
        rows.append({
            "temperature": temp,
            "samples": len(names),
            "novel": float(1 - known.mean()) if train_hashes is not None and names else None,
            "unique": len(set(names)) / max(len(names), 1),
            "heldout_real": float(heldout.mean()) if names else 0.0,
            "length_tv": float(0.5 * np.abs(p_gen - p_real).sum()),
            "mean_len": float(np.mean([len(x) for x in names])) if names else 0.0,
            "corpus_mean_len": float(np.mean([len(x) for x in corpus_names])),
        })
    return rows
