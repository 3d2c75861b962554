"""Time to a fine-tuned model against its held-out NLL: `namesmith train LIST --init-from BASE` as a user types it.

For each list (names the shipped bases never saw: dinosaurs, and US census surnames for the given-names base;
``--sizes`` names taken at random, 1,000 others as the test names), each base and each variant (extra flags on
the fine-tuning preset), the command's wall time (median of ``--reps`` runs, interleaved) and the test NLL of
the model it wrote, paired with the first variant's over the same test names (``benchmarks/paired.py``).
Prints one JSON object.

    python benchmarks/finetune_time.py --sizes 60,200 --reps 3
    python benchmarks/finetune_time.py --scratch --sizes 200,1000 --reps 1 --seeds 1337,1338   # from scratch
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from paired import SHARED, name_scores, paired  # noqa: E402

import namesmith  # noqa: E402
from namesmith.corpus import load_corpus  # noqa: E402

VARIANTS = {  # the finetune preset of 0.8 (its flags given explicitly), then today's
    "0.8 preset (5 folds, lr 5e-4, eval every 50 steps, patience 6)": [
        "--folds", "5", "--lr", "5e-4", "--eval-every", "50", "--patience", "6", "--eval-epochs", "0"],
    "the preset (4 folds, lr 2e-3, eval every 4 epochs, patience 3)": [],
}
SCRATCH = {  # --scratch: the list trained from scratch with the default preset, before and after --eval-epochs 4
    "0.8 default preset (eval every 250 steps)": ["--eval-epochs", "0"],
    "the default preset (at least every 4 epochs)": [],
}


def lists(sizes: list[int], seed: int) -> dict[str, tuple[list[str], list[str]]]:
    dinos = [n.strip().lower() for n in (SHARED / "data" / "dinosaurs" / "dinos.txt").read_text().splitlines()
             if n.strip()]
    surnames = list(load_corpus("census-surnames").names)
    out = {}
    for name, pool in (("dinosaurs", dinos), ("surnames", surnames)):
        pool = sorted(set(pool))
        random.Random(seed).shuffle(pool)
        for k in sizes:
            out[f"{name} {k}"] = (pool[:k], pool[k:k + 1000])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="60,200")
    ap.add_argument("--bases", default="given-names,world")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", help="JSON: name -> extra flags (default: the 0.8 preset against today's)")
    ap.add_argument("--seeds", default="1337", help="training seeds, each its own row")
    ap.add_argument("--scratch", action="store_true", help="train the lists from scratch (the default preset)")
    a = ap.parse_args()
    variants = json.loads(a.variants) if a.variants else SCRATCH if a.scratch else VARIANTS
    bases = ["scratch"] if a.scratch else a.bases.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, (train, test) in lists([int(x) for x in a.sizes.split(",")], a.seed).items():
            src = tmp / f"{label.replace(' ', '-')}.txt"
            src.write_text("\n".join(train) + "\n")
            for base, seed in ((b, int(x)) for b in bases for x in a.seeds.split(",")):
                if label.startswith("surnames") and base == "world":
                    continue  # the world corpus holds surnames: not a list the base never saw
                walls = {v: [] for v in variants}
                for _ in range(a.reps):
                    for v, flags in variants.items():  # interleaved
                        out = tmp / f"m-{abs(hash((label, base, v)))}.npz"
                        cmd = ["namesmith", "train", str(src), *([] if base == "scratch" else ["--init-from", base]),
                               "-o", str(out), "--force", "--samples", "0", "--seed", str(seed), *flags]
                        t = time.perf_counter()
                        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ})
                        walls[v].append(time.perf_counter() - t)
                scores = {}
                for v in variants:
                    ck = namesmith.load(tmp / f"m-{abs(hash((label, base, v)))}.npz")
                    scores[v] = name_scores(ck, test)
                first = next(iter(variants))
                a_nll, tokens = scores[first]
                row = {"list": label, "base": base, "seed": seed, "names": len(train), "test_names": len(test),
                       "variants": {}}
                for v in variants:
                    b_nll = scores[v][0]
                    ok = np.isfinite(a_nll) & np.isfinite(b_nll)
                    row["variants"][v] = {"wall_s": statistics.median(walls[v]), "walls": walls[v],
                                          "paired": paired(a_nll[ok], b_nll[ok], tokens[ok])}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    print(json.dumps({"reps": a.reps, "rows": rows, "variants": variants, "scratch": a.scratch}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
