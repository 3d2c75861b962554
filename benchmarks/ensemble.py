"""Ensembles: two trained networks and a Kneser-Ney n-gram in one mixture, measured on test.txt.

The networks must come from runs on the same corpus with the same seed (so the
same 5% validation split, which none of them trained on); the mixture weights
are fitted by EM on that split, the n-gram is counted on the rest, and test.txt
is used once. Prints one JSON object: each network alone, each with the n-gram,
and all of them together.

    python benchmarks/ensemble.py out/lstm.npz out/transformer.npz --order 6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from namesmith.api import load
from namesmith.config import from_dict
from namesmith.corpus import load_corpus
from namesmith.models.mixture import Mixture, fit_weights
from namesmith.models.ngram import NGram
from namesmith.train import heldout_nll, load_data

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))


def network(path: str):
    ck = load(path)
    nets = [p for p in getattr(ck.model, "parts", [ck.model]) if p.trainable]
    return ck, nets[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--order", type=int, default=6)
    ap.add_argument("--test", default=str(SHARED / "data" / "names-ssa2018" / "test.txt"))
    a = ap.parse_args()
    loaded = [network(p) for p in a.models]
    cfg = from_dict(loaded[0][0].meta.train.config)
    for ck, _ in loaded[1:]:
        other = ck.meta.train.config
        if (other["corpus"], other["seed"], other["val_fraction"]) != (cfg.corpus, cfg.seed, cfg.val_fraction):
            sys.exit("the networks must come from runs on the same corpus, seed and validation split")
    data = load_data(cfg)
    if any(ck.vocab != data.vocab for ck, _ in loaded):
        sys.exit("the networks' alphabets differ")
    test = data.vocab.encode_many(load_corpus(a.test).names)
    ngram = NGram.fit({"vocab_size": data.vocab.size, "order": a.order}, data.encoded)
    nets = [net for _, net in loaded]

    def measure(parts: list, label: str) -> dict:
        w = fit_weights(parts, data.val_encoded) if len(parts) > 1 else [1.0]
        m = Mixture.of(parts, w) if len(parts) > 1 else parts[0]
        return {"parts": label, "weights": [round(x, 4) for x in w], "val_nll": heldout_nll(m, data.val_encoded),
                "test_nll": heldout_nll(m, test)}

    rows = [measure([ngram], f"{a.order}-gram")]
    for path, net in zip(a.models, nets):
        rows += [measure([net], Path(path).stem), measure([net, ngram], f"{Path(path).stem} + {a.order}-gram")]
    rows.append(measure([*nets, ngram], " + ".join(Path(p).stem for p in a.models) + f" + {a.order}-gram"))
    print(json.dumps({"models": [n.describe() for n in nets], "rows": rows,
                      "command": "python benchmarks/ensemble.py " + " ".join(sys.argv[1:])}))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
