"""Is model B really better than model A on these test names? A paired bootstrap over the names.

Both models score every test name; the test NLL is sum(name NLL) / sum(len + 1) (nats per
character, end token included, as everywhere in BENCHMARKS.md). Resampling the *names*
(the same resample for both models: paired) gives the spread of the difference that another
draw of test names of the same size would show, and the spread of one model's NLL alone.

    python benchmarks/paired.py benchmarks/out/preset-default.npz benchmarks/out/preset-best.npz

Prints one JSON object: each model's NLL and its standard error, the difference B - A, its
standard error and 95% interval, and the share of resamples in which B is better; on the names
both models can score (``skipped``: names with a character one of them never saw).
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


def name_scores(ck, names: list[str], style: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each name's total NLL (nats) under checkpoint ``ck``, in ``style`` if given (NaN where a name holds a
    character ``ck`` never saw), and its number of predictions (len + 1); names read as ``evaluate`` reads them."""
    from namesmith.score import name_totals, prepare_names
    from namesmith.styles import styled

    prep = prepare_names(ck.vocab, names, ck.lowercase, False)
    out = np.full(len(names), np.nan)
    if prep.ok:
        encoded = ck.vocab.encode_many([prep.names[i] for i in prep.ok])
        out[prep.ok] = name_totals(styled(ck.model, ck.styles, style), encoded)
    return out, np.array([len(n) + 1 for n in prep.names], dtype=np.float64)


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


def paired(a: np.ndarray, b: np.ndarray, tokens: np.ndarray, reps: int = 2000, seed: int = 0) -> dict:
    """B - A on the names both score (finite in both): the difference and its spread over resamples."""
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        raise ValueError("no test name can be scored by both models (each holds characters one of them never saw)")
    boot = paired_bootstrap(a[ok], b[ok], tokens[ok], reps, np.random.default_rng(seed))
    t = tokens[ok].sum()
    return {"names": int(ok.sum()), "a_nll": float(a[ok].sum() / t), "b_nll": float(b[ok].sum() / t),
            "diff": float((b[ok].sum() - a[ok].sum()) / t), **boot}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="model A (.npz or a shipped model's name)")
    ap.add_argument("b", help="model B")
    ap.add_argument("--test", default=str(SHARED / "data" / "names-ssa2018" / "test.txt"))
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from namesmith.api import load
    from namesmith.corpus import load_corpus
    from namesmith.errors import NamesmithError

    try:
        names = list(load_corpus(args.test).names)
        (a, tokens), (b, tokens_b) = name_scores(load(args.a), names), name_scores(load(args.b), names)
    except NamesmithError as e:
        raise SystemExit(f"paired.py: {e}") from None
    if not np.array_equal(tokens, tokens_b):
        raise SystemExit("the two models read the test names differently (one lowercases them): not comparable")
    try:
        out = paired(a, b, tokens, args.reps, args.seed)
    except ValueError as e:
        raise SystemExit(f"paired.py: {e}") from None
    print(json.dumps({"a": args.a, "b": args.b, "test": args.test, "reps": args.reps, **out,
                      "skipped": len(names) - out["names"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
