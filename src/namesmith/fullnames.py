"""Full names: a given name and a surname of the same style (and sex), in the culture's usual order.

A model whose network learned a ``kind`` factor with the values ``given`` and ``surname`` (the shipped
``world`` model) draws each part with its kind asked, both in the asked style or blend and, so that
an inflected surname agrees (Anna Ivanova, not Anna Ivanov), the same sex: the asked ``sex``, or for each
name female or male drawn with the run's seed. The given name takes every constraint of the options
(``prefix``, ``suffix``, ``contains``, ``pattern``, lengths); the surname takes none of the text ones.

**Order.** Given name first, as English-language text writes names, except for the styles whose
cultures write the family name first and keep that order in romanised text too (FAMILY_FIRST: Chinese,
Taiwanese, Japanese, Korean, Vietnamese, Hungarian: "Tanaka Kazue", "Nagy Zsófia"); a blend is written
given name first. A full name's ``logprob`` is the sum of its parts'; its ``nats_per_char`` counts both
parts' characters and end tokens; it is ``novel`` when both parts are; its ``seed`` is None (each part
was drawn from a stream of the run's seed, which ``Samples.seed`` gives).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import ConfigError
from .sample import Sample, SampleOptions, Samples, option_kwargs

FAMILY_FIRST = frozenset({"Chinese", "Taiwanese", "Japanese", "Korean", "Vietnamese", "Hungarian"})


def check_full(factors: dict[str, list[str]], opts: SampleOptions) -> None:
    if not {"given", "surname"} <= set(factors.get("kind", ())):
        raise ConfigError("full names need a model that learned given names and surnames apart (a kind factor: "
                          "the world model; or train on a file with a header name<TAB>style<TAB>kind)")
    if opts.kind is not None:
        raise ConfigError("give full or kind, not both (a full name is a given name and a surname)")


def full_names(sample: Callable[..., Samples], opts: SampleOptions, data) -> Samples:
    """``opts.n`` full names of the model of ``data`` (a CheckpointData: its factors, styles and each style's
    factor values seen together in training, :func:`surname_sex`); ``sample(**options)`` draws single names
    (``Checkpoint.sample``)."""
    factors, style_names, combinations = data.factors, data.styles, data.factor_combinations
    check_full(factors, opts)
    seed = opts.seed if opts.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(seed)
    known = factors.get("sex", [])
    pool = [s for s in ("female", "male") if s in known]
    if opts.sex is not None or not pool:
        sexes = [opts.sex] * opts.n
    else:
        sexes = [pool[i] for i in rng.integers(0, len(pool), opts.n)]
    base = option_kwargs(opts) | {"full": False}
    surname = {**base, "prefix": "", "suffix": "", "contains": "", "pattern": None, "min_len": 2}
    parts: dict[str | None, tuple[list[Sample], list[Sample]]] = {}  # sex -> (given names, surnames)
    out = Samples([], seed=seed)
    for k, sex in enumerate(sorted(set(sexes), key=str)):
        count = sexes.count(sex)
        g = sample(**{**base, "n": count, "kind": "given", "sex": sex, "seed": seed + 2 * k + 1})
        s = sample(**{**surname, "n": count, "kind": "surname", "sex": surname_sex(sex, opts.style, factors,
                                                                                combinations, style_names),
                      "seed": seed + 2 * k + 2})
        if len(g) < count or len(s) < count:
            raise ConfigError(f"found only {min(len(g), len(s))} of {count} full names' parts within the "
                              "candidate budget; loosen the constraints or raise max_tries")
        parts[sex] = (list(g), list(s))
        out.tries += g.tries + s.tries
        for reason, c in [*g.rejected.items(), *s.rejected.items()]:
            out.rejected[reason] = out.rejected.get(reason, 0) + c
    family_first = isinstance(opts.style, str) and "=" not in opts.style and _style(opts.style, style_names) \
        in FAMILY_FIRST
    for sex in sexes:
        g, s = parts[sex][0].pop(0), parts[sex][1].pop(0)
        first, second = (s, g) if family_first else (g, s)
        lp = g.logprob + s.logprob
        out.names.append(Sample(f"{first.name} {second.name}", lp, -lp / (len(g.name) + len(s.name) + 2),
                                None if g.novel is None or s.novel is None else bool(g.novel and s.novel), None,
                                f"{first.display} {second.display}"))
    out.accepted = len(out.names)
    return out


def surname_sex(sex: str | None, style, factors: dict[str, list[str]], combinations: dict[str, list[str]] | None,
                styles: list[str]) -> str | None:
    """The sex a surname is drawn with: the given name's where the style's training surnames carry that sex
    (Russian Ivanova), else None ("any": an Italian or Japanese surname has no sex, and asking one would pull
    it toward the given names of that sex). A blend or no style: only where every style of the model has it."""
    if sex is None or not combinations or list(factors)[:2] != ["kind", "sex"]:
        return None
    key = f"surname/{sex}" + "/" * (len(factors) - 2)
    if isinstance(style, str) and "=" not in style and "," not in style:
        return sex if key in combinations.get(_style(style, styles), ()) else None
    return sex if all(key in combinations.get(s, ()) for s in styles) else None


def _style(name: str, styles: list[str]) -> str:
    """The style's name as the model spells it (a case-insensitive match), else as given."""
    return next((s for s in styles if s.casefold() == name.strip().casefold()), name)


