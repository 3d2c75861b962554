"""Names like the ones a user likes: ``like="Aria,Luna,Nova"`` (``sample --like``, ``namesmith similar NAME``).

**Steering.** On a model with styles, each liked name's style posterior
``p(s | name)`` (:func:`namesmith.styles.classify`, the training shares as
prior) is computed and the posteriors are averaged; the styles holding at least
``MIN_SHARE`` of that mean (the ``MAX_STYLES`` largest), renormalised to shares
``w_s``, are the blend. Each candidate is drawn from *one* of these styles,
chosen with its share (guided by ``style_strength`` as a style is): samples of
the posterior predictive ``sum_s w_s P_s(name)``, so every name stays in one
style (a per-letter blend, as ``style="A=0.5,B=0.5"`` draws, mixes styles inside
a name), and each costs one style's pass rather than one per style. A ``style``
given with ``like`` wins over the posterior. A model without styles is steered
by the candidates and the ranking alone.

**Candidates.** For each style of the blend, pools drawn with every other option as given (new
names only by default, no duplicates, never a liked name itself), of equal
sizes: one free; for each liked name ``L``, one starting with ``L``'s first
``ceil(|L| / 3)`` letters (unless a ``prefix`` is given) and one ending with
its last ``ceil(|L| / 3)`` letters (unless a ``suffix`` is given; by rejection,
within ``SUFFIX_TRIES`` times the pool's size: what the budget leaves is kept).
With a ``deadline`` (the web API's time budget), the pools drawn when it passes
are ranked if they hold ``n`` names. The pools hold
``clip(POOL_PER_NAME * n, POOL_MIN, POOL_MAX)`` candidates in all, shared
among the styles by their shares.

**Ranking.** Lowest first by

    cost(c) = min_L  lev(c, L) / max(|c|, |L|)  +  BETA * nats_per_char(c)

with ``lev`` the Levenshtein distance (rapidfuzz) and ``nats_per_char`` the
candidate's surprisal under the steered model (end token included). ``BETA = 0.2``:
a name one nat per character less plausible must be a fifth of its letters closer
to be ranked the same (about one letter of a five-letter name).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .corpus import LONGEST_NAME
from .errors import ConfigError, ConstraintError
from .rng import SEED_MASK
from .sample import OutOfTime, Sample, SampleOptions, Sampler, Samples, run_seed

BETA = 0.2  # the weight of the model's surprisal (nats/char) against the normalised edit distance
MIN_SHARE = 0.05  # a style of the liked names' mean posterior below this share is dropped from the blend
MAX_STYLES = 5  # the most styles a blend of liked names keeps (each costs one network pass a character)
MAX_LIKED = 20  # the most liked names one call takes
POOL_PER_NAME, POOL_MIN, POOL_MAX = 20, 240, 6_000  # candidates drawn in all: 20 per name asked, within bounds
SUFFIX_TRIES = 10  # the suffix part draws at most this many candidates per candidate it needs


def liked_names(spec: str) -> list[str]:
    """The names of ``like``: comma-separated text (the API joins a list), stripped, blanks dropped, in order."""
    if not isinstance(spec, str):
        raise ConfigError(f"like is a name or names separated by commas, not {spec!r:.60}")
    names = spec.split(",")
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        raise ConfigError("like needs at least one name (names separated by commas: Aria,Luna)")
    if len(names) > MAX_LIKED:
        raise ConfigError(f"like takes at most {MAX_LIKED} names, got {len(names)}")
    long = next((n for n in names if len(n) > LONGEST_NAME), None)
    if long is not None:
        raise ConfigError(f"the liked name {long[:40]!r}… is longer than {LONGEST_NAME} characters")
    return names


def like_blend(posteriors: np.ndarray, styles: Sequence[str]) -> dict[str, float]:
    """The blend of the liked names' mean posterior ``posteriors`` ``(N, S)``: styles at ``MIN_SHARE`` or
    more, the ``MAX_STYLES`` largest, renormalised (largest first)."""
    mean = posteriors.mean(axis=0)  # (S,)
    order = [s for s in np.argsort(-mean, kind="stable")[:MAX_STYLES] if mean[s] >= MIN_SHARE]
    order = order or [int(np.argmax(mean))]
    total = float(mean[order].sum())
    return {styles[s]: float(mean[s] / total) for s in order}


def closeness(names: list[str], liked: list[str]) -> np.ndarray:
    """``min_L lev(c, L) / max(|c|, |L|)`` of each candidate ``c``: ``(N,)`` in [0, 1]."""
    d = process.cdist(names, liked, scorer=Levenshtein.normalized_distance, dtype=np.float32)  # (N, J)
    return d.min(axis=1).astype(np.float64)


def pool_seed(seed: int, part: int) -> int:
    """The seed of candidate pool ``part`` of a run seeded ``seed``: independent streams (SeedSequence)."""
    return int(np.random.SeedSequence([seed, part]).generate_state(1, np.uint64)[0]) & SEED_MASK


def _parts(liked: list[str], opts: SampleOptions) -> list[dict]:
    """The pools' option changes: one free pool, and per liked name its beginning and its ending (where not
    given)."""
    parts = [{}]
    for name in liked:
        k = math.ceil(len(name) / 3)
        if not opts.prefix:
            parts.append({"prefix": name[:k]})
        if not opts.suffix:
            parts.append({"suffix": name[-k:]})
    return parts


def _draw(sampler: Sampler, pool: SampleOptions, optional: bool, deadline: float | None,
          out: Samples) -> tuple[list[Sample], bool]:
    """One pool's names and whether the time ran out; its tries and rejections added to ``out``. A pool whose
    budget runs out keeps what it found; an ``optional`` one (a beginning or an ending) that the other options
    rule out gives nothing."""
    got: list[Sample] = []
    late = False
    try:
        report = sampler.sample(pool, deadline, got.extend)
        tries, rejected = report.tries, report.rejected
    except OutOfTime:
        tries, rejected, late = len(got), {}, True
    except ConstraintError:  # the budget ran out: what was found is kept
        tries, rejected = pool.budget, {}
    except ConfigError:
        if not optional:
            raise
        tries, rejected = 0, {}
    out.tries += tries
    for k, v in rejected.items():
        out.rejected[k] = out.rejected.get(k, 0) + v
    return got, late


def sample_like(sampler_for: Callable[[object], Sampler], opts: SampleOptions, *,
                posterior: Callable[[list[str]], np.ndarray] | None = None, styles: Sequence[str] = (),
                digest: str | None = None, deadline: float | None = None) -> Samples:
    """``opts.n`` new names close to ``opts.like`` (see the module's doc), best first.

    ``sampler_for(style)`` makes the sampler of a style or blend (None: the model as it is);
    ``posterior(names)`` gives ``p(style | name)`` ``(N, S)`` on a model with ``styles``.
    The result's ``steered`` holds the blend used (None without styles).
    """
    plain = sampler_for(opts.style)
    liked = [plain.normalize(n, opts.fold_accents) for n in liked_names(opts.like)]
    for n in liked:
        plain.vocab.check(n, "the liked name", hint="; fold_accents reads accented letters as plain ones")
    blend = None
    if opts.style is None and posterior is not None and styles:
        blend = like_blend(posterior(liked), styles)
    groups = list(blend.items()) if blend is not None else [(opts.style, 1.0)]
    seed = run_seed(opts, digest)
    parts = _parts(liked, opts)
    total = int(np.clip(POOL_PER_NAME * opts.n, POOL_MIN, POOL_MAX))
    found: dict[str, Sample] = {}
    out = Samples([], 0, seed)
    taken = set(liked)
    pools = [(g, style, share, change) for g, (style, share) in enumerate(groups) for change in parts]
    samplers: dict[int, Sampler] = {}
    for i, (g, style, share, change) in enumerate(pools):  # pool i: seed pool_seed(seed, i)
        sampler = samplers[g] = samplers.get(g) or sampler_for(style)
        each = max(1, round(total * share / len(parts)))
        pool = replace(opts, like=None, key=None, best=None, n=each, unique=True, style=style,
                       seed=pool_seed(seed, i), **change,
                       **({"max_tries": SUFFIX_TRIES * each + 100} if "suffix" in change else {}))
        got, late = _draw(sampler, pool, bool(change), deadline, out)
        found.update((one.name, one) for one in got if one.name not in taken and one.name not in found)
        if late and len(found) < opts.n:
            raise OutOfTime(f"the time ran out after {len(found)} names like {', '.join(liked)} of {opts.n} "
                            "asked; ask for fewer names or like fewer names at once")
        if late:
            break  # enough candidates: ranked below
    candidates = list(found.values())
    if len(candidates) < opts.n:
        raise ConstraintError(f"found only {len(candidates)} names like {', '.join(liked)} for {opts.n} asked "
                              f"({out.tries} tries); loosen the constraints or ask for fewer")
    cost = closeness([s.name for s in candidates], liked) + BETA * np.array([s.nats_per_char for s in candidates])
    order = np.argsort(cost, kind="stable")[:opts.n]
    out.names = [replace(candidates[i], seed=None) for i in order]
    out.accepted = len(out.names)
    out.steered = blend
    return out
