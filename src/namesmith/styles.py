"""Styles: choosing one, blending several, and the reverse question (which style does a name sound like?).

A conditional model (``model.styles = S > 0``, trained on a labelled corpus)
gives ``P_s(c | history)`` for each style ``s`` and, with no style, the pooled
distribution (trained by style dropout). Everything here is built from the
contract's ``with_style(s)`` views, so sampling, k-best and scoring need nothing new.

**Blend.** ``"Italian=0.7,Japanese=0.3"`` is the per-character arithmetic mixture

    P(c | h) = sum_s w_s P_s(c | h)        (weights normalised to sum to 1)

of the styles' next-character distributions, each style's network running on
the same history (``models.mixture.Blend``). Chosen over the geometric mixture
``prod_s P_s^{w_s}`` because it stays a proper mixture of things each style
would say: a name can start Italian and drift Japanese, every character it
emits is plausible under at least one parent, and a style whose weight is 0 is
dropped, so ``A=1,B=0`` is exactly ``A``. (The geometric blend favours strings
every parent finds plausible and collapses toward their common core; with
disjoint alphabets it can emit nothing at all.)

**Classification** by Bayes' rule from the same model:
``p(s | name) ∝ p(s) · prod_t P_s(c_t | c_<t)`` with ``p(s)`` the training
share of each style (``uniform_prior=True``: equal), one pass over the names
per style.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .errors import ConfigError, VocabError, check_bool
from .models.base import Model
from .models.mixture import Blend, Guided
from .offensive import flag
from .score import (LN2, Evaluation, StyleScore, check_pair, name_list, name_totals, nll_standard_error, non_finite,
                    perplexity, prepare_names)
from .text import capitalised
from .vocab import Encoded, Vocab


def _style_index(name: str, styles: Sequence[str]) -> int:
    """The id of style ``name``: an exact match, else the one case-insensitive match."""
    if name in styles:
        return list(styles).index(name)
    folded = [i for i, s in enumerate(styles) if s.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(styles[:30]) + (f", … ({len(styles)} in all)" if len(styles) > 30 else "")
    raise ConfigError(f"unknown style {name!r}; this model knows: {shown}")


def parse_styles(spec, styles: Sequence[str]) -> list[tuple[int, float]] | None:
    """``(style id, weight)`` pairs of a style or blend, weights summing to 1; None for no style (pooled).

    ``spec``: ``"Italian"``, ``"Italian=0.7,Japanese=0.3"`` (weights are relative and
    normalised), or a mapping ``{"Italian": 0.7, "Japanese": 0.3}``.
    """
    if spec is None or spec == "":
        return None
    if not styles:
        raise ConfigError("this model has no styles (it was not trained on a labelled corpus): the shipped world "
                          "model has them (namesmith sample world --style Italian; namesmith models lists them), "
                          "or train on name<TAB>style lines or a folder of STYLE.txt files")
    if isinstance(spec, str):
        parts = spec.split(",")
        if len(parts) > 1 and not all("=" in p for p in parts):
            raise ConfigError(f"a blend gives every style a weight: 'A=0.7,B=0.3', got {spec!r}")
        pairs = [(p.partition("=")[0].strip(), p.partition("=")[2].strip() if "=" in p else "1") for p in parts]
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        raise ConfigError(f"a style is a name, 'A=0.7,B=0.3' or a mapping of style to weight, "
                          f"not {type(spec).__name__}")
    if not pairs:
        raise ConfigError("an empty blend: give at least one style with a weight above 0")
    out: dict[int, float] = {}
    for name, weight in pairs:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a style name is non-empty text, got {name!r}")
        try:
            w = float(weight) if not isinstance(weight, bool) else math.nan
        except (TypeError, ValueError):
            w = math.nan
        if not math.isfinite(w) or w < 0:
            raise ConfigError(f"the weight of style {name!r} must be a number ≥ 0, got {weight!r}")
        i = _style_index(name, styles)
        if i in out:
            raise ConfigError(f"style {styles[i]!r} appears twice in the blend")
        out[i] = w
    top = max(out.values())
    if top <= 0:
        raise ConfigError("a blend needs at least one style with a weight above 0")
    scaled = {i: w / top for i, w in out.items()}  # in (0, 1]: the sum cannot overflow (1e308 + 1e308)
    total = sum(scaled.values())
    return [(i, w / total) for i, w in scaled.items()]


def factor_ids(spec: Mapping[str, str | None] | None, factors: Mapping[str, Sequence[str]]) -> tuple | None:
    """The value id of each further factor of a model (``factors``: column -> values, in the model's order)
    for the values asked in ``spec`` (``{"kind": "given", "sex": "female"}``; a value matches exactly or by
    case), None for a factor not asked; None when nothing is asked."""
    asked = {k: v for k, v in (spec or {}).items() if v is not None}
    if not asked:
        return None
    for name, value in asked.items():
        if name not in factors:
            known = ", ".join(factors) or "none"
            raise ConfigError(f"this model has no {name} factor (its further factors: {known}); train on a "
                              f"labelled file whose header names a {name} column (name<TAB>style<TAB>{name})")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name} is a value's name, got {value!r}")
    out = []
    for name, values in factors.items():
        value = asked.get(name)
        if value is None:
            out.append(None)
            continue
        folded = [i for i, v in enumerate(values) if v == value] or [
            i for i, v in enumerate(values) if v.casefold() == value.casefold()]
        if len(folded) != 1:
            raise ConfigError(f"unknown {name} {value!r}; this model knows: {', '.join(values)}")
        out.append(folded[0])
    return tuple(out)


def styled(model: Model, styles: Sequence[str], spec, strength: float = 0.0, factors: tuple | None = None) -> Model:
    """``model`` conditioned on a style or blend (see :func:`parse_styles`) and on the further factors'
    value ids ``factors`` (:func:`factor_ids`); ``model`` itself for neither. ``strength`` > 0 guides each
    style away from the pooled model with the same factors (:class:`~namesmith.models.mixture.Guided`)."""
    pairs = parse_styles(spec, styles)
    if pairs is None and factors is None:
        return model
    pairs = pairs or [(None, 1.0)]  # factors alone: the pooled style with them

    def view(i):
        return model.with_style(i, factors)

    if strength:
        # each style sharpened against the one pooled pass (style and factors at "any": guidance strengthens
        # every control asked), then interpolated (a blend of two styles is itself close to the pooled model,
        # so guiding the blend as a whole would amplify noise)
        return Guided([view(i) for i, _ in pairs], [w for _, w in pairs], model.with_style(None), strength)
    if len(pairs) == 1 or sum(w > 0 for _, w in pairs) == 1:
        return view(next(i for i, w in pairs if w > 0))
    return Blend([view(i) for i, _ in pairs], [w for _, w in pairs])


def _priors(styles: Sequence[str], counts: Mapping[str, int] | None, uniform: bool) -> np.ndarray:
    """log p(s): the training shares (add-one smoothed), or uniform."""
    c = np.array([0 if counts is None else counts.get(s, 0) for s in styles], dtype=np.float64)
    if uniform or not c.any():
        return np.full(len(styles), -math.log(len(styles)))
    c += 1.0
    return np.log(c / c.sum())


STYLE_CHUNK = 2048  # names scored at once under every style (S x 2048 rows per pass)


def style_loglik(model: Model, vocab: Vocab, names: list[str], n_styles: int) -> np.ndarray:
    """``log P_s(name + end)`` of every (encodable) name under every style: ``(S, N)``.

    One pass over the names repeated once per style, each row carrying its style id (as a labelled
    batch in training does), rather than one pass per style: the 35 styles of the world model cost
    one batched forward pass, not 35."""
    out = np.empty((n_styles, len(names)))
    with np.errstate(all="ignore"):
        for lo in range(0, len(names), STYLE_CHUNK):
            enc = vocab.encode_many(names[lo:lo + STYLE_CHUNK])
            n, lengths = len(enc), np.diff(enc.offsets)
            tiled = Encoded(np.tile(enc.ids, n_styles),
                            np.concatenate([[0], np.cumsum(np.tile(lengths, n_styles))]).astype(np.int64),
                            np.repeat(np.arange(n_styles, dtype=np.int32), n))  # (S * n) rows, style-major
            out[:, lo:lo + n] = -name_totals(model, tiled).reshape(n_styles, n)
    if not np.isfinite(out).all():
        raise non_finite()
    return out


def posterior(model: Model, vocab: Vocab, names: list[str], *, styles: Sequence[str],
              counts: Mapping[str, int] | None = None, uniform_prior: bool = False) -> np.ndarray:
    """``p(s | name)`` of every (encodable, normalised) name: ``(N, S)``, rows summing to 1."""
    joint = style_loglik(model, vocab, names, len(styles))
    joint += _priors(styles, counts, uniform_prior)[:, None]  # (S, N) log p(s) + log P_s(name)
    post = np.exp(joint - joint.max(axis=0))
    return (post / post.sum(axis=0)).T


@dataclass
class Classification:
    """Which style a name sounds like: ``p(style | name)`` of each style (the ``top`` most probable first)."""

    name: str
    style: str | None  # the most probable; None when the name has characters the model never saw
    probability: float | None
    styles: dict[str, float]
    unknown_chars: list[str]
    display: str = ""  # the name as printed: each part capitalised, unless the model keeps case
    offensive: str | None = None  # why the name is offensive (namesmith.offensive.flag), None if it is not
    # each further factor of the model (kind, sex): value -> p(value | name), most probable first
    factors: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def factor_posteriors(model: Model, vocab: Vocab, names: list[str], factors: Mapping[str, Sequence[str]],
                      style_ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``p(value | name)`` of each further factor under each name's style ``style_ids (N,)`` (None: all styles
    pooled), the other factors left at "any", a uniform prior over the values: column -> ``(N, F_k)``, rows
    summing to 1. One pass over each style's names per value (``with_style``: the parts that learned factors)."""
    style_ids = np.full(len(names), -1) if style_ids is None else np.asarray(style_ids)
    K, out = len(factors), {}
    with np.errstate(all="ignore"):
        for k, (column, values) in enumerate(factors.items()):
            ll = np.empty((len(values), len(names)))  # (F_k, N)
            for s in np.unique(style_ids):
                rows = np.flatnonzero(style_ids == s)
                enc = vocab.encode_many([names[i] for i in rows])
                for v in range(len(values)):
                    view = model.with_style(None if s < 0 else int(s), tuple(v if j == k else None for j in range(K)))
                    ll[v, rows] = -name_totals(view, enc)
            if not np.isfinite(ll).all():
                raise non_finite()
            p = np.exp(ll - ll.max(axis=0))
            out[column] = (p / p.sum(axis=0)).T
    return out


def classify(model: Model, vocab: Vocab, names, styles: Sequence[str], *, counts: Mapping[str, int] | None = None,
             uniform_prior: bool = False, lowercase: bool | None = None, fold_accents: bool = False,
             top: int | None = None, factors: Mapping[str, Sequence[str]] | None = None) -> list[Classification]:
    """``p(style | name)`` for each name, in input order.

    Each result: ``name``, ``style`` (the most probable), ``probability`` (its
    posterior), ``styles`` (style → probability, most probable first, the ``top``
    first if given) and ``factors`` (each further factor of the model, such as kind
    and sex: value → probability, under the name's most probable style). A name with characters the model never saw gets
    ``style`` None and its ``unknown_chars``.
    """
    check_pair(model, vocab)
    check_bool("uniform_prior", uniform_prior)
    if not styles or model.styles != len(styles):
        raise ConfigError("classification needs a model trained on a labelled corpus (it has no styles)")
    names = name_list(names)
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ConfigError(f"top must be a whole number ≥ 1, got {top!r}")
    lowercase = vocab.caseless if lowercase is None else lowercase
    prep = prepare_names(vocab, names, lowercase, fold_accents)
    ok = prep.ok
    results = [Classification(n, None, None, {}, u, capitalised(n) if lowercase else n, flag(n))
               for n, u in zip(prep.names, prep.unknown)]
    if ok:
        post = posterior(model, vocab, [prep.names[i] for i in ok], styles=styles, counts=counts,
                         uniform_prior=uniform_prior).T  # (S, N)
        for col, i in enumerate(ok):
            order = np.argsort(-post[:, col], kind="stable")[:top]
            r = results[i]
            r.style, r.probability = styles[order[0]], float(post[order[0], col])
            r.styles = {styles[s]: float(post[s, col]) for s in order}
        kept = [prep.names[i] for i in ok]
        best = np.argmax(post, axis=0)  # (N,) each name's most probable style: its factors are judged there
        for column, p in (factor_posteriors(model, vocab, kept, factors, best) if factors else {}).items():
            values = list(factors[column])
            for row, i in enumerate(ok):
                order = np.argsort(-p[row], kind="stable")
                results[i].factors[column] = {values[v]: float(p[row, v]) for v in order}
    return results


def evaluate_styles(model: Model, vocab: Vocab, names, labels: Sequence[str], styles: Sequence[str], *,
                    counts: Mapping[str, int] | None = None, uniform_prior: bool = False,
                    lowercase: bool | None = None, fold_accents: bool = False, strict: bool = False) -> dict:
    """Per-style evaluation of a labelled list: NLL given each name's own style, and classification.

    Keys: ``nll`` (nats/char, end token included, each name under its given
    style), ``nll_se`` (its standard error over the names), ``bits_per_char``, ``perplexity``, ``names``,
    ``chars``, ``tokens``,
    ``skipped``, ``unknown_chars``, ``accuracy``, ``macro_accuracy`` (the mean of
    the styles' accuracies), ``per_style`` (style → ``nll``, ``nll_se``,
    ``accuracy``, ``names``) and ``confusion`` (rows: given style, columns: predicted; in
    ``styles`` order).
    """
    check_pair(model, vocab)
    check_bool("uniform_prior", uniform_prior)
    check_bool("strict", strict)
    names = name_list(names)
    if len(labels) != len(names):
        raise ConfigError("every name needs its style")
    ids = np.array([_style_index(s, styles) for s in labels], dtype=np.int64)
    prep = prepare_names(vocab, names, vocab.caseless if lowercase is None else lowercase, fold_accents)
    ok = prep.ok
    if strict and len(ok) < len(names):
        first = next(i for i, u in enumerate(prep.unknown) if u)
        vocab.check(prep.names[first], "the name")  # raises, naming the characters
    if not ok:
        raise VocabError("none of the names can be scored: every one has characters the model never saw")
    kept = [prep.names[i] for i in ok]
    given = ids[ok]  # (N,)
    loglik = style_loglik(model, vocab, kept, len(styles))  # (S, N)
    steps = np.array([len(n) + 1 for n in kept], dtype=np.float64)  # (N,) predictions per name
    nll_own = -loglik[given, np.arange(len(kept))]  # (N,)
    predicted = np.argmax(loglik + _priors(styles, counts, uniform_prior)[:, None], axis=0)  # (N,)
    right = predicted == given
    S = len(styles)
    confusion = np.zeros((S, S), dtype=np.int64)
    np.add.at(confusion, (given, predicted), 1)
    per_style = {}
    for s in np.unique(given):
        rows = given == s
        per_style[styles[s]] = StyleScore(float(nll_own[rows].sum() / steps[rows].sum()),
                                          nll_standard_error(nll_own[rows], steps[rows]), float(right[rows].mean()),
                                          int(rows.sum()))
    nll = float(nll_own.sum() / steps.sum())
    unknown = sorted({c for u in prep.unknown for c in u})
    return Evaluation(nll, nll_standard_error(nll_own, steps), nll / LN2, perplexity(nll), len(kept),
                      int(steps.sum()) - len(kept), int(steps.sum()), len(names) - len(kept), unknown,
                      float(right.mean()), float(np.mean([v.accuracy for v in per_style.values()])), per_style,
                      list(styles), confusion.tolist())
