"""Names like this one (``namesmith similar``, ``sample --like``): is the style of what comes back the liked names'?

An independent judge: a per-style Kneser-Ney 4-gram Bayes classifier counted on the model's
labelled corpus (not the model), giving a soft posterior p(style | name). For each of
``--names`` liked names drawn at random from the corpus (one liked name), and ``--triples``
sets of three names of one style (``--like A,B,C``):

* ``similar``: ``ck.similar(liked, n)``;
* ``unsteered``: ``ck.sample(n, novel=True)`` with the same seed (what a user gets without it);
* ``prefix``: new names starting with the first liked name's first third, no steering or ranking;

and the distance of each set's mean judged posterior to the liked names' mean judged
posterior (total variation, 0 = the same, 1 = disjoint), paired over the liked sets (mean
difference and its standard error). Also the normalised edit distance to the nearest liked
name, the share of new names, and the wall time per call. Prints one JSON object.

    python benchmarks/similar.py world --names 60 --triples 20 --n 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import namesmith
from namesmith.corpus import load_corpus
from namesmith.similar import closeness
from namesmith.vocab import Vocab

sys.path.insert(0, str(Path(__file__).parent))
from style_guidance import soft_judge  # noqa: E402  (the same judge)


def tv(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def paired(a: list[float], b: list[float]) -> dict:
    d = np.array(a) - np.array(b)
    return {"mean_a": float(np.mean(a)), "mean_b": float(np.mean(b)), "diff": float(d.mean()),
            "se": float(d.std(ddof=1) / np.sqrt(len(d))), "pairs": len(d), "a_closer": int((d < 0).sum())}


def arms(ck, liked: list[str], n: int, seed: int) -> dict:
    """What each way of asking returns for one liked set."""
    k = -(-len(liked[0]) // 3)
    return {"similar": lambda: ck.similar(liked, n, seed=seed),
            "unsteered": lambda: ck.sample(n, novel=True, seed=seed),
            # the first liked name's beginning alone (no style steering, no ranking): what step 2 gives by itself
            "prefix": lambda: ck.sample(n, novel=True, unique=True, prefix=liked[0][:k].lower(), seed=seed)}


def run(ck, judge, sets: list[list[str]], n: int, seed: int) -> dict:
    tvs, dist, novel, secs = ({} for _ in range(4))
    examples = []
    for i, liked in enumerate(sets):
        want = judge([x.lower() for x in liked]).mean(axis=0)
        for how, draw in arms(ck, liked, n, seed + i).items():
            t = time.perf_counter()
            got = draw()
            secs.setdefault(how, []).append(time.perf_counter() - t)
            names = [s.name for s in got]
            tvs.setdefault(how, []).append(tv(judge(names).mean(axis=0), want))
            dist.setdefault(how, []).append(float(closeness(names, [x.lower() for x in liked]).mean()))
            novel.setdefault(how, []).append(float(np.mean([bool(s.novel) for s in got])))
            if how == "similar" and len(examples) < 8:
                examples.append({"liked": liked, "names": [s.display for s in got][:5], "steered": got.steered})
    return {"tv": {b: paired(tvs["similar"], tvs[b]) for b in ("unsteered", "prefix")},
            "edit": {b: paired(dist["similar"], dist[b]) for b in ("unsteered", "prefix")},
            "novel": {k: statistics.mean(v) for k, v in novel.items()},
            "seconds": {k: statistics.median(v) for k, v in secs.items()}, "examples": examples}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a styled model (file or shipped name)")
    ap.add_argument("--corpus", help="its labelled corpus (default: the model's own built-in corpus)")
    ap.add_argument("--names", type=int, default=60)
    ap.add_argument("--triples", type=int, default=20)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    ck = namesmith.load(a.model)
    corpus = load_corpus(a.corpus or ck.corpus_name.removeprefix("builtin:"))
    names, labels = list(corpus.names), list(corpus.labels)
    judge = soft_judge(names, labels, ck.styles, Vocab.from_names(names))
    rng = np.random.default_rng(a.seed)
    ok = [i for i, x in enumerate(names) if all(c in ck.vocab for c in x) and len(x) >= 3]
    singles = [[names[i].title()] for i in rng.choice(ok, a.names, replace=False)]
    triples = []
    for s in rng.choice(ck.styles, a.triples, replace=len(ck.styles) < a.triples):
        mine = [i for i in ok if labels[i] == s]
        triples.append([names[i].title() for i in rng.choice(mine, 3, replace=False)])
    out = {"model": a.model, "corpus": a.corpus or ck.corpus_name, "n": a.n,
           "judge": "per-style KN-4 Bayes classifier on the whole labelled corpus (soft posterior)",
           "one_name": run(ck, judge, singles, a.n, a.seed), "three_names": run(ck, judge, triples, a.n, a.seed)}
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
