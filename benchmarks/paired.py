"""Is model B really better than model A on these test names? A paired bootstrap over the names.

Both models score every test name; the test NLL is sum(name NLL) / sum(len + 1) (nats per
character, end token included, as everywhere in BENCHMARKS.md). Resampling the *names*
(the same resample for both models: paired) gives the spread of the difference that another
draw of test names of the same size would show, and the spread of one model's NLL alone.

    python benchmarks/paired.py benchmarks/out/preset-default.npz benchmarks/out/preset-best.npz

Prints one JSON object: each model's NLL and its standard error, the difference B - A, its
standard error and 95% interval, and the share of resamples in which B is better.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))


def name_nlls(model_path: str, test: str) -> tuple[np.ndarray, np.ndarray]:
    """Each test name's total NLL (nats) under the model, and its number of predictions (len + 1)."""
    from namesmith.api import load
    from namesmith.corpus import load_corpus
    from namesmith.score import name_totals

    ck = load(model_path)
    kept = list(load_corpus(test, lowercase=ck.lowercase).names)  # read as `namesmith eval` reads it
    unknown = [n for n in kept if ck.vocab.unknown(n)]
    if unknown:
        raise SystemExit(f"{model_path}: {len(unknown)} test names hold characters the model never saw "
                         f"(first: {unknown[0]!r}); compare models on names both can score")
    encoded = ck.vocab.encode_many(kept)
    return name_totals(ck.model, encoded), encoded.lengths.astype(np.float64) + 1


def paired_bootstrap(a: np.ndarray, b: np.ndarray, tokens: np.ndarray, reps: int,
                     rng: np.random.Generator) -> dict:
    """Per-character NLL of A and B, and of B - A, over ``reps`` resamples of the names (with replacement)."""
    n = len(tokens)
    idx = rng.integers(0, n, size=(reps, n))  # (reps, n) the same names for both models
    t = tokens[idx].sum(axis=1)  # (reps,)
    nll_a, nll_b = a[idx].sum(axis=1) / t, b[idx].sum(axis=1) / t  # (reps,)
    diff = nll_b - nll_a
    lo, hi = np.quantile(diff, [0.025, 0.975])
    return {"a_se": float(nll_a.std(ddof=1)), "b_se": float(nll_b.std(ddof=1)), "diff_se": float(diff.std(ddof=1)),
            "diff_95": [float(lo), float(hi)], "b_better_share": float((diff < 0).mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="model A (.npz or a shipped model's name)")
    ap.add_argument("b", help="model B")
    ap.add_argument("--test", default=str(SHARED / "data" / "names-ssa2018" / "test.txt"))
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    a, tokens = name_nlls(args.a, args.test)
    b, tokens_b = name_nlls(args.b, args.test)
    if not np.array_equal(tokens, tokens_b):
        raise SystemExit("the two models read the test names differently (one lowercases them): not comparable")
    nll_a, nll_b = a.sum() / tokens.sum(), b.sum() / tokens.sum()
    boot = paired_bootstrap(a, b, tokens, args.reps, np.random.default_rng(args.seed))
    print(json.dumps({"a": args.a, "b": args.b, "test": args.test, "names": len(tokens), "reps": args.reps,
                      "a_nll": float(nll_a), "b_nll": float(nll_b), "diff": float(nll_b - nll_a), **boot}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
