"""How the networks of an ``--ensemble`` run are combined, measured offline: is the linear mixture the best?

Takes a model trained with ``--ensemble N`` on names-ssa2018/train.txt (``--val-fraction 0.05``) and compares,
on test.txt once, its mixture (linear: ``sum_i w_i P_i``, weights fitted by EM on the validation split) with

* **calibrated**: each network's logits divided by a temperature fitted on the validation split first;
* **log-linear**: the networks' product ``softmax(sum_k a_k log P_k)`` (exponents ``a_k`` chosen on the
  validation split from a grid), then mixed linearly with the n-gram as before.

Everything fitted on the validation names; prints one JSON object.

    namesmith train ../shared/data/names-ssa2018/train.txt --val-fraction 0.05 --preset best -o out/best.npz
    python benchmarks/network_mixing.py out/best.npz
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

import namesmith
from namesmith.batch import length_sorted_batches, pad
from namesmith.config import resolve
from namesmith.corpus import load_corpus
from namesmith.models.layers import log_softmax
from namesmith.models.mixture import em_weights
from namesmith.train import load_data

sys.path.insert(0, str(Path(__file__).parent))
from mixture_variants import mixed_nll  # noqa: E402  (the mean NLL of a linear mixture)

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))
CORPUS = SHARED / "data" / "names-ssa2018"


def predictions(nets, ngram, encoded) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Each network's log-probabilities of every predicted symbol ``(N, V)``, the targets ``(N,)``, and the
    n-gram's log-probability of each target ``(N,)``."""
    logp, targets, gram = [[] for _ in nets], [], []
    for idx in length_sorted_batches(encoded, 512, nets[0].vocab_size):
        batch = pad(encoded, idx, norm="sum")
        real = batch.mask.astype(bool)  # (B, T)
        for k, net in enumerate(nets):
            logp[k].append(log_softmax(net.forward(batch)[1]["logits"][real].astype(np.float64)))  # (n, V)
        targets.append(batch.Y[real])
        gram.append(-ngram.nll(batch)[real].astype(np.float64))
    return [np.concatenate(x) for x in logp], np.concatenate(targets), np.concatenate(gram)


def picked(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    return logp[np.arange(len(y)), y]


def linear(lp_val: np.ndarray, lp_test: np.ndarray) -> tuple[list[float], float, float]:
    """EM weights on the validation rows of ``lp (C, N)``; the validation and test NLL of that mixture."""
    w = np.array(em_weights(lp_val))
    return w.round(4).tolist(), mixed_nll(lp_val, w), mixed_nll(lp_test, w)


def temperature(logp: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.5, 2] that minimises the NLL of ``softmax(log p / T)`` (golden section)."""
    lo, hi, g = 0.5, 2.0, (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        fa, fb = (-picked(log_softmax(logp / t), y).mean() for t in (a, b))
        lo, hi = (lo, b) if fa < fb else (a, hi)
    return (lo + hi) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="an --ensemble model trained on names-ssa2018/train.txt with --val-fraction 0.05")
    ap.add_argument("--seed", type=int, default=1337, help="the run's seed (its validation split)")
    a = ap.parse_args()
    ck = namesmith.load(a.model)
    nets = [p for p in ck.model.parts if p.trainable]
    ngram = next(p for p in ck.model.parts if not p.trainable)
    data = load_data(resolve({"corpus": str(CORPUS / "train.txt"), "val_fraction": 0.05, "seed": a.seed}))
    test = ck.vocab.encode_many(list(load_corpus(CORPUS / "test.txt").names))
    (pv, yv, gv), (pt, yt, gt) = predictions(nets, ngram, data.val_encoded), predictions(nets, ngram, test)
    out = {"model": a.model, "networks": len(nets)}
    out["linear"] = linear(np.stack([picked(p, yv) for p in pv] + [gv]), np.stack([picked(p, yt) for p in pt] + [gt]))
    temps = [temperature(p, yv) for p in pv]
    out["calibrated"] = {"temperatures": [round(t, 4) for t in temps], "mixture": linear(
        np.stack([picked(log_softmax(p / t), yv) for p, t in zip(pv, temps)] + [gv]),
        np.stack([picked(log_softmax(p / t), yt) for p, t in zip(pt, temps)] + [gt]))}

    def product(logps, y, exps):
        return picked(log_softmax(sum(e * p for e, p in zip(exps, logps))), y)

    grid = np.round(np.arange(0.25, 0.80, 0.05), 2)
    best = min(itertools.product(grid, repeat=len(nets)),
               key=lambda e: linear(np.stack([product(pv, yv, e), gv]), np.stack([product(pv, yv, e), gv]))[1])
    out["log_linear"] = {"exponents": [float(e) for e in best], "mixture": linear(
        np.stack([product(pv, yv, best), gv]), np.stack([product(pt, yt, best), gt]))}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
