#!/usr/bin/env python3
"""Do samples asked for a kind or a sex have it? Factor fidelity of a model trained with further factors.

An independent judge per factor: a per-value Kneser-Ney 4-gram Bayes classifier (benchmarks/style_guidance.py's
``soft_judge``) counted on a 90% split of the model's corpus (given names only for sex; blank values left
out). For each value v, ``--per-value`` samples are drawn with ``kind=v`` (or ``sex=v`` with ``kind=given``),
with no style (pooled) and within each of ``--styles``; *fidelity* = the share the judge labels v, divided
by the share of that value's real held-out names (the other 10%) it labels v. Prints one JSON object.

    python benchmarks/factors.py world --per-value 400 --styles Japanese,Russian,Italian,Yoruba
    python benchmarks/factors.py world --nll-against OLD.npz     # paired NLL on the model's validation split

``--nll-against``: both models score the model's own validation split (the run's seeded split, 8,711 names
for ``world``), each name under its style; the factored model also with its name's kind and sex given.
Paired bootstrap over the names (benchmarks/paired.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import namesmith
from namesmith.corpus import load_corpus
from namesmith.vocab import Vocab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import paired  # noqa: E402
from style_guidance import judge  # noqa: E402


def split_scores(ck, names, styles, factors=None) -> np.ndarray:
    """Each name's total NLL under its style (and its factors' values, when given), (N,)."""
    from namesmith.score import name_totals

    enc = ck.vocab.encode_many(names).with_styles(np.array([ck.styles.index(s) for s in styles]))
    if factors is not None:
        enc = enc.with_factors(factors)
    return name_totals(ck.model, enc)


def nll_against(ck, old_spec: str) -> dict:
    from namesmith.config import TrainConfig
    from namesmith.train import factor_ids, split_data

    old = namesmith.load(old_spec)
    cfg = TrainConfig(**{k: v for k, v in ck.meta.train.config.items() if k in TrainConfig.__dataclass_fields__})
    data = split_data(load_corpus(cfg.corpus), cfg)
    val = data.val
    names, labels = list(val.names), list(val.labels)
    tokens = np.array([len(n) + 1 for n in names], dtype=np.float64)
    a = split_scores(old, names, labels)
    b = split_scores(ck, names, labels)
    c = split_scores(ck, names, labels, factor_ids(val, [(f, v) for f, v in ck.factors.items()]))
    return {"names": len(names), "style_only": paired(a, b, tokens), "with_factors": paired(a, c, tokens)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--corpus", help="its headed labelled corpus (default: the model's own built-in corpus)")
    ap.add_argument("--per-value", type=int, default=400)
    ap.add_argument("--styles", default="", help="comma-separated styles to measure within (besides pooled)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nll-against", help="an earlier model of the same corpus: paired NLL on the validation split")
    a = ap.parse_args()
    ck = namesmith.load(a.model)
    if a.nll_against:
        print(json.dumps(nll_against(ck, a.nll_against)))
        return 0
    corpus = load_corpus(a.corpus or ck.corpus_name.removeprefix("builtin:"))
    names, kinds, sexes = list(corpus.names), corpus.factor("kind"), corpus.factor("sex")
    idx = np.random.default_rng(a.seed).permutation(len(names))
    test, train = set(idx[: len(idx) // 10].tolist()), idx[len(idx) // 10:]
    vocab = Vocab.from_names(names)
    out = {"model": a.model, "per_value": a.per_value, "judge": "per-value KN-4 Bayes on a 90% split", "rows": []}
    for factor, column, within in (("kind", kinds, None), ("sex", sexes, "given")):
        values = [v for v in ck.factors.get(factor, []) if v]
        keep = [i for i in train if column[i] and (within is None or kinds[i] == within)]
        classify = judge([names[i] for i in keep], [column[i] for i in keep], values, vocab)
        real = {}
        for k, v in enumerate(values):
            held = [names[i] for i in sorted(test) if column[i] == v and (within is None or kinds[i] == within)]
            real[v] = float(np.mean(classify(held) == k)) if held else float("nan")
        for style in [None, *filter(None, a.styles.split(","))]:
            for k, v in enumerate(values):
                opts = {factor: v, **({"kind": within} if within else {})}
                got = [s.name for s in ck.sample(a.per_value, style=style, seed=a.seed + k, **opts)]
                share = float(np.mean(classify(got) == k))
                out["rows"].append({"factor": factor, "value": v, "style": style, "share": share,
                                    "real_share": real[v], "fidelity": share / real[v] if real[v] else None})
                print(json.dumps(out["rows"][-1]), file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
