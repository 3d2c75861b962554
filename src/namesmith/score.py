"""Scoring names and evaluating a model on a corpus (held-out NLL).

The unit is the **nat per character**, end token included: a name of n
characters contributes n + 1 predictions (its characters, then the end token),
and the corpus NLL is the sum of ``-log p`` over all predictions divided by
their number. Bits per character = nats / ln 2; perplexity = exp(nats).

Names are normalised like the training names (:func:`~namesmith.text.normalize`),
optionally with accents folded. A name with a character outside the model's
alphabet has probability zero under it: :func:`evaluate` leaves such names out
and reports how many and which characters (``strict=True`` refuses them
instead); :func:`score_names` marks each one and scores the others.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .corpus import in_hashes
from .errors import ConfigError, NamesmithError, VocabError, check_bool
from .models.base import Model, batched_nll
from .offensive import flag
from .sample import SampleOptions, Sampler
from .text import capitalised, fold_accents, normalize
from .vocab import EOS, Encoded, Vocab

LN2 = math.log(2.0)


def perplexity(nll: float) -> float:
    """``exp(nll)``; infinite instead of an overflow error for absurd values."""
    return math.exp(nll) if nll < 700 else math.inf


def check_pair(model: Model, vocab: Vocab) -> None:
    if not isinstance(model, Model) or not isinstance(vocab, Vocab):
        raise ConfigError("scoring needs a namesmith model and its Vocab")
    if model.vocab_size != vocab.size:
        raise ConfigError(f"the vocabulary has {vocab.size} symbols but the model {model.vocab_size}: "
                          "use the vocabulary stored with the model")


def name_list(names, what: str = "names") -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ConfigError(f"give a list of {what}, not {type(names).__name__} (e.g. [\"Kara\"])")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise ConfigError(f"every name must be text, got {bad[0]!r:.40}")
    for i, n in enumerate(names):
        if not n.strip():
            raise ConfigError(f"name {i + 1} of the {what} is empty; a name has at least one character")
        try:
            n.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"name {i + 1} of the {what} ({n.encode('utf-8', 'backslashreplace').decode()!r}) "
                              "is not valid UTF-8 text") from None
    return list(names)


def non_finite() -> NamesmithError:
    return NamesmithError("the model gives non-finite probabilities (NaN or infinite: its weights overflow); "
                          "this model file cannot be used")


def per_name_nll(model: Model, encoded: Encoded, rows: int = 1024) -> list[np.ndarray]:
    """Per-prediction NLL of each encoded name (an array of length len + 1), in input order."""
    out: list[np.ndarray] = [None] * len(encoded)  # type: ignore[list-item]
    lengths = encoded.lengths
    for b in batched_nll(model, encoded, rows):
        for row, i in enumerate(b.idx):
            out[i] = b.nll[row, : lengths[i] + 1]
    return out


def name_totals(model: Model, encoded: Encoded, rows: int = 1024) -> np.ndarray:
    """Each name's total NLL (nats, end token included), (N,), without per-name Python objects."""
    out = np.zeros(len(encoded))
    for b in batched_nll(model, encoded, rows):
        out[b.idx] = b.nll.sum(axis=1)
    return out


@dataclass
class UserNames:
    """User names normalised for a model, split into scorable ones and ones with unseen characters."""

    names: list[str]  # normalised, in input order
    unknown: list[list[str]]  # per name: the characters the model never saw (empty = scorable)

    @property
    def ok(self) -> list[int]:
        return [i for i, u in enumerate(self.unknown) if not u]


def prepare_names(vocab: Vocab, names: list[str], lowercase: bool, fold: bool) -> UserNames:
    check_bool("fold_accents", fold)
    clean = []
    for n in names:
        n = normalize(n.strip(), lowercase)
        if EOS in n or "\r" in n:
            raise VocabError(f"the name {n!r} contains a line break; a name is one line of text")
        clean.append(fold_accents(n, vocab) if fold else n)
    return UserNames(clean, [vocab.unknown(n) for n in clean])


def nll_standard_error(totals: np.ndarray, steps: np.ndarray) -> float | None:
    """Standard error of the NLL ``sum(totals) / sum(steps)`` over the draw of the names: how far the NLL of
    another sample of as many names would move. The delta method for a ratio of sums, with the n / (n - 1)
    correction (it matches a bootstrap over the names: benchmarks/paired.py). None for fewer than 2 names.

    totals: (N,) each name's NLL in nats; steps: (N,) its predictions (len + 1).
    """
    n = len(totals)
    if n < 2:
        return None
    nll = totals.sum() / steps.sum()
    resid = totals - nll * steps  # (N,) each name's share of the error of the ratio
    return float(np.sqrt(n / (n - 1) * np.sum(resid**2)) / steps.sum())


@dataclass
class StyleScore:
    """One style's part of a labelled evaluation."""

    nll: float
    nll_se: float | None
    accuracy: float
    names: int


@dataclass
class Evaluation:
    """Held-out NLL of a list of names (nats per character, end token included), with its standard error over
    the names; for a labelled list on a styled model also the classification and each style's part."""

    nll: float
    nll_se: float | None  # None for a single name
    bits_per_char: float
    perplexity: float
    names: int  # scored
    chars: int
    tokens: int  # chars + one end token per name
    skipped: int  # names with characters the model never saw
    unknown_chars: list[str]
    accuracy: float | None = None
    macro_accuracy: float | None = None  # the mean of the styles' accuracies
    per_style: dict[str, StyleScore] | None = None
    styles: list[str] | None = None
    confusion: list[list[int]] | None = None  # rows: given style, columns: predicted (in ``styles`` order)
    generation: list[dict] | None = None  # namesmith eval --samples

    def to_dict(self) -> dict:
        out = asdict(self)
        return {k: v for k, v in out.items() if v is not None or k == "nll_se"}


def evaluate(model: Model, vocab: Vocab, names, *, lowercase: bool | None = None, fold_accents: bool = False,
             strict: bool = False) -> Evaluation:
    """Mean NLL per character (nats, end token included) of ``names`` under ``model``.

    Names with characters outside the model's alphabet are left out and counted
    (``skipped``, ``unknown_chars``), or refused with ``strict=True``. ``nll_se``: the
    standard error of ``nll`` over the draw of the names (:func:`nll_standard_error`).
    """
    check_pair(model, vocab)
    check_bool("strict", strict)
    names = name_list(names)
    if not names:
        raise ConfigError("there are no names to evaluate")
    lowercase = vocab.caseless if lowercase is None else lowercase
    prep = prepare_names(vocab, names, lowercase, fold_accents)
    ok = prep.ok
    unknown = sorted({c for u in prep.unknown for c in u})
    if strict and unknown:
        first = next(i for i, u in enumerate(prep.unknown) if u)
        vocab.check(prep.names[first], "the name")
    if not ok:
        raise VocabError(f"none of the {len(names)} names can be scored: the model never saw "
                         f"{', '.join(map(repr, unknown[:10]))} (its alphabet: {vocab.alphabet()})")
    encoded = vocab.encode_many([prep.names[i] for i in ok])
    totals = name_totals(model, encoded)  # (N,)
    total = float(totals.sum())
    if not math.isfinite(total):
        raise non_finite()
    nll = total / encoded.tokens
    return Evaluation(nll, nll_standard_error(totals, encoded.lengths + 1.0), nll / LN2, perplexity(nll), len(ok),
                      encoded.tokens - len(ok), encoded.tokens, len(names) - len(ok), unknown)


QUANTILE_SAMPLE = 20_000  # names enough for percentiles to ~0.5 points; keeps the set-up linear at 1M names


RANK_MIN = 1000  # training names behind a score's percentile: fewer rank nothing (issue 29: 0.0% for all four)


def nll_quantiles(model: Model, encoded: Encoded, points: int = 1001, sample: int = QUANTILE_SAMPLE) -> np.ndarray:
    """Quantiles of the per-name nats/char over the encoded names (kept in checkpoints for percentiles).

    Over at most ``sample`` names, evenly spaced through the list (deterministic;
    a list sorted by frequency or by style is sampled across its whole range).
    """
    if len(encoded) > sample:
        encoded = encoded.take(np.linspace(0, len(encoded) - 1, sample).round().astype(np.int64))
    per_char = name_totals(model, encoded) / (encoded.lengths + 1)
    return np.quantile(per_char, np.linspace(0.0, 1.0, points))


@dataclass
class NameScore:
    name: str
    logprob: float | None  # natural log of P(name + end token); None when the name cannot be scored
    nats_per_char: float | None
    surprisal: list[tuple[str, float]]  # (character or "<end>", -log p in nats) per prediction
    percentile: float | None  # % of training names the model finds less plausible
    unknown_chars: list[str] = field(default_factory=list)  # why the name cannot be scored
    display: str = ""  # the name as printed: each part capitalised, unless the model keeps case
    offensive: str | None = None  # why the name is offensive (namesmith.offensive.flag), None if it is not

    def to_dict(self) -> dict:
        return {"name": self.name, "display": self.display, "logprob": self.logprob,
                "nats_per_char": self.nats_per_char, "surprisal": [{"char": c, "nats": s} for c, s in self.surprisal],
                "percentile": self.percentile, "unknown_chars": self.unknown_chars, "offensive": self.offensive}


def percentile_of(nats_per_char: float, quantiles: np.ndarray | None) -> float | None:
    """Share (in %) of training names with a higher nats/char than this one."""
    if quantiles is None or quantiles.size < 2:
        return None
    levels = np.linspace(0.0, 1.0, quantiles.size)
    below = float(np.interp(nats_per_char, quantiles, levels, left=0.0, right=1.0))
    return round(100.0 * (1.0 - below), 1)


def score_names(model: Model, vocab: Vocab, names, *, quantiles: np.ndarray | None = None,
                lowercase: bool | None = None, fold_accents: bool = False) -> list[NameScore]:
    """Score each name on its own; one with unseen characters gets ``logprob=None`` and its ``unknown_chars``."""
    check_pair(model, vocab)
    names = name_list(names)
    lowercase = vocab.caseless if lowercase is None else lowercase
    prep = prepare_names(vocab, names, lowercase, fold_accents)
    empty = [n for n, raw in zip(prep.names, names) if not n]
    if empty or not names:
        raise ConfigError("cannot score an empty name; give at least one character")
    ok = prep.ok
    nlls = per_name_nll(model, vocab.encode_many([prep.names[i] for i in ok])) if ok else []
    scored = dict(zip(ok, nlls))
    out = []
    for i, name in enumerate(prep.names):
        shown = capitalised(name) if lowercase else name
        if i not in scored:
            out.append(NameScore(name, None, None, [], None, prep.unknown[i], shown, flag(name)))
            continue
        nll = scored[i]
        total = float(nll.sum())
        if not math.isfinite(total):
            raise non_finite()
        per_char = total / len(nll)
        labels = list(name) + ["<end>"]
        out.append(NameScore(name, -total, per_char, [(c, float(s)) for c, s in zip(labels, nll)],
                             percentile_of(per_char, quantiles), [], shown, flag(name)))
    return out


def generation_report(sampler: Sampler, corpus_names, n: int, *, seed: int = 0,
                      temperatures=(0.5, 0.8, 1.0), max_len: int = 50) -> list[dict]:
    """Statistics of ``n`` generated names at each temperature, against ``corpus_names``.

    * ``novel``: share of samples that are not names the model was given;
    * ``unique``: distinct samples / samples;
    * ``heldout_real``: share of samples that are real names of ``corpus_names``
      the model was not given;
    * ``length_tv``: total-variation distance between the length distributions
      of the samples and of the corpus (0 = identical, 1 = disjoint).
    """
    corpus_set = set(corpus_names)
    hashes = sampler.known_hashes
    lengths_real = np.bincount([len(x) for x in corpus_names], minlength=max_len + 1)[: max_len + 1]
    p_real = lengths_real / max(lengths_real.sum(), 1)
    rows = []
    for temp in temperatures:
        names = [s.name for s in sampler.sample(SampleOptions(n=n, temperature=temp, max_len=max_len, seed=seed))]
        known = in_hashes(names, hashes)
        heldout = np.array([(nm in corpus_set) and not k for nm, k in zip(names, known)])
        lens = np.bincount([len(x) for x in names], minlength=max_len + 1)[: max_len + 1]
        p_gen = lens / max(lens.sum(), 1)
        rows.append({
            "temperature": temp,
            "samples": len(names),
            "novel": float(1 - known.mean()) if hashes is not None and names else None,
            "unique": len(set(names)) / max(len(names), 1),
            "heldout_real": float(heldout.mean()) if names else 0.0,
            "length_tv": float(0.5 * np.abs(p_gen - p_real).sum()),
            "mean_len": float(np.mean([len(x) for x in names])) if names else 0.0,
            "corpus_mean_len": float(np.mean([len(x) for x in corpus_names])),
        })
    return rows
