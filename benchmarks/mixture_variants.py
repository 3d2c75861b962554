"""Richer neural + n-gram mixtures, measured offline on a trained model: do they beat one weight pair?

Takes a mixture trained on names-ssa2018/train.txt with ``--val-fraction 0.05`` (so the validation split is
the run's own, which neither part trained on) and compares, on test.txt once, the model's one weight pair with:

* weights per **n-gram context bucket** (Jelinek-Mercer style bucketing): each predicted symbol falls in a
  bucket by its n-gram history (``k``: the longest context seen in training; ``c``: log2 of that context's
  number of distinct continuations; ``t``: the position in the name), and each bucket gets its own pair, fitted
  by EM on the validation symbols, with a Dirichlet prior of ``prior`` symbols toward the pooled pair;
* **extra Kneser-Ney orders** (2-5 and 8, counted on the same training names) as further components.

Prints one JSON object.

    namesmith train ../shared/data/names-ssa2018/train.txt --val-fraction 0.05 --preset best --ensemble 1 --patience 10 -o out/best.npz
    python benchmarks/mixture_variants.py out/best.npz
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

import namesmith
from namesmith.batch import length_sorted_batches, pad
from namesmith.config import resolve
from namesmith.corpus import load_corpus
from namesmith.models.layers import logsumexp
from namesmith.models.mixture import component_logprobs, em_weights
from namesmith.train import load_data

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))
CORPUS = SHARED / "data" / "names-ssa2018"


def symbol_features(net, ngram, encoded) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``log P`` of every predicted symbol under the network and the n-gram ``(2, N)``, and its bucket keys.

    Reads the n-gram's histories and seen contexts (its private lookups: this is a measurement, not an API).
    """
    lps, keys = [], {"k": [], "c": [], "t": []}
    for idx in length_sorted_batches(encoded, 1024, net.vocab_size):
        batch = pad(encoded, idx, norm="sum")
        real = batch.mask.astype(bool)  # (B, T)
        lps.append(np.stack([-net.nll(batch)[real], -ngram.nll(batch)[real]]).astype(np.float64))
        hist = ngram._histories(batch, None)[real]  # (n, N-1)
        k, c = np.zeros(len(hist), np.int64), np.ones(len(hist), np.int64)
        for order, rows, at in ngram._seen_contexts(hist):
            k[rows], c[rows] = order, ngram._count[order][at]
        keys["k"].append(k)
        keys["c"].append(np.minimum(np.log2(np.maximum(c, 1)).astype(np.int64), 5))
        keys["t"].append(np.minimum(np.broadcast_to(np.arange(batch.X.shape[1]), batch.X.shape)[real], 6))
    return np.concatenate(lps, axis=1), {name: np.concatenate(v) for name, v in keys.items()}


def mixed_nll(lp: np.ndarray, w: np.ndarray) -> float:
    """Mean NLL of a mixture with weights ``w`` (C,) or one weight vector per symbol (C, N)."""
    return float(-logsumexp(lp + np.log(w if w.ndim == 2 else w[:, None]), axis=0).mean())


def bucketed(lp_val, b_val, lp_test, b_test, pooled, prior: float) -> float:
    weights = {b: np.array(em_weights(lp_val[:, b_val == b], prior=pooled, strength=prior))
               for b in np.unique(b_val)}
    return mixed_nll(lp_test, np.stack([weights.get(b, pooled) for b in b_test], axis=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a neural + n-gram mixture trained on names-ssa2018/train.txt, --val-fraction 0.05")
    ap.add_argument("--seed", type=int, default=1337, help="the run's seed (its validation split)")
    a = ap.parse_args()
    ck = namesmith.load(a.model)
    net, ngram = ck.model.parts
    pooled = np.array(ck.model.config["weights"])
    cfg = resolve({"corpus": str(CORPUS / "train.txt"), "val_fraction": 0.05, "seed": a.seed})
    data = load_data(cfg)
    test = ck.vocab.encode_many(list(load_corpus(CORPUS / "test.txt").names))
    lp_val, kv = symbol_features(net, ngram, data.val_encoded)
    lp_test, kt = symbol_features(net, ngram, test)
    out = {"model": a.model, "one_pair": {"weights": pooled.round(4).tolist(), "test_nll": mixed_nll(lp_test, pooled)},
           "buckets": [], "orders": []}
    for name in ("k", "c", "k,c", "k,t"):
        parts = name.split(",")
        bv = sum(kv[p] * 10 ** i for i, p in enumerate(parts))
        bt = sum(kt[p] * 10 ** i for i, p in enumerate(parts))
        for prior in (0.0, 20.0, 100.0):
            out["buckets"].append({"buckets": name, "prior": prior, "count": int(np.unique(bv).size),
                                   "test_nll": bucketed(lp_val, bv, lp_test, bt, pooled, prior)})
    quiet = {"samples": 0, "progress": False, "log": lambda *_: None, "val_fraction": 0.05, "seed": a.seed}
    extra = {o: namesmith.fit(CORPUS / "train.txt", model="ngram", order=o, **quiet).model for o in (2, 3, 4, 5, 8)}
    parts, labels = [net, ngram, *extra.values()], ["network", f"{ngram.order}-gram", *(f"{o}-gram" for o in extra)]
    lv, lt = component_logprobs(parts, data.val_encoded), component_logprobs(parts, test)
    for rows in ([0, 1, 3], [0, 1, 4], [0, 1, 5], list(range(len(parts)))):
        w = np.array(em_weights(lv[rows]))
        out["orders"].append({"parts": [labels[r] for r in rows], "weights": w.round(4).tolist(),
                              "test_nll": mixed_nll(lt[rows], w)})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
