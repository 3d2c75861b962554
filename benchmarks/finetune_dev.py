"""Choosing the fine-tuning defaults on *dev* styles, never on the benchmark's (benchmarks/styles.py tests
Finnish and Zulu): a base trained on the world training split without the dev styles, then lists of 50 and
200 names of each dev style fine-tuned with each variant; test NLL on the dev style's test names.

    python benchmarks/finetune_dev.py                                  # the variants below, ~15 min
    python benchmarks/finetune_dev.py --variants '{"lr 1e-3": {"lr": 1e-3, "folds": 1}}'

Prints one line per variant (the four lists' NLL and their mean) and a reference row: the better of
training the list from scratch (--preset fast) and Kneser-Ney of order 3-5.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import namesmith
from namesmith.corpus import Corpus, load_corpus

sys.path.insert(0, str(Path(__file__).parent))
from styles import QUIET, only, split, write_tsv  # noqa: E402  (the same split and helpers)

DEV = ["Swahili", "Estonian"]
VARIANTS = {  # the 0.4.0 options, then what the finetune preset is made of (from 0.6.0 every row's mixture also
    # takes the base's n-gram of the style the list sounds like: 2.2040 -> 2.1723 for the preset row)
    "one network, lr 1e-3 (0.4.0 options)": {"lr": 1e-3, "folds": 1},
    "--folds 5, lr 1e-3": {"lr": 1e-3},
    "--folds 5, lr 5e-4 (the finetune preset)": {},
    "--folds 7": {"folds": 7},
    "dropout 0.4": {"dropout": 0.4},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", type=json.loads, default=VARIANTS)
    ap.add_argument("--reference", action="store_true", help="also train the from-scratch references")
    a = ap.parse_args()
    train, test = split(load_corpus("world"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        keep = [i for i, s in enumerate(train.labels) if s not in DEV]
        base_corpus = Corpus(tuple(train.names[i] for i in keep), "base", tuple(train.labels[i] for i in keep))
        # the default preset as it was until 0.8.0 (embedding 32, patience 10): the base of the recorded figures
        namesmith.fit(write_tsv(tmp / "base.tsv", base_corpus), tmp / "base.npz", preset="default", embed=32,
                      patience=10, **QUIET)
        rng = np.random.default_rng(0)
        lists = []
        for s in DEV:
            pool, te = list(only(train, [s]).names), list(only(test, [s]).names)
            for size in (50, 200):
                f = tmp / f"{s}-{size}.txt"
                f.write_text("\n".join(pool[i] for i in rng.choice(len(pool), size, replace=False)) + "\n")
                lists.append((f, te))
        for name, opts in a.variants.items():
            t = time.perf_counter()
            nll = [namesmith.fit(f, init_from=tmp / "base.npz", **QUIET, **opts).evaluate(te).nll for f, te in lists]
            print(json.dumps({"variant": name, "options": opts, "nll": nll, "mean": float(np.mean(nll)),
                              "seconds": time.perf_counter() - t}), flush=True)
        if a.reference:
            ref = [min([namesmith.fit(f, preset="fast", **QUIET).evaluate(te).nll]
                       + [namesmith.fit(f, model="ngram", order=o, **QUIET).evaluate(te).nll for o in (3, 4, 5)])
                   for f, te in lists]
            print(json.dumps({"variant": "reference", "nll": ref, "mean": float(np.mean(ref))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
