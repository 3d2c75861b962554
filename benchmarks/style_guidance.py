"""Style fidelity of a styled model's samples against style guidance strength (``--style-strength``).

An independent judge: a per-style Kneser-Ney 4-gram Bayes classifier counted on a
90% split of the model's labelled corpus (not the model itself). For each style,
``--per-style`` samples are drawn at temperature 1 with each guidance strength g
and classified; *fidelity* = the share of samples the judge labels with their
own style, divided by the share of that style's real held-out names (the other
10%) it labels so. Also reported: novelty (the share of samples not in the
corpus), and the NLL (nats/char) of the held-out real names, each under its own style guided with g (the
model has seen some of them: a relative figure across g, not a test NLL).
Prints one JSON object.

    python benchmarks/style_guidance.py world --strengths 0,0.5,1,2,3 --per-style 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

import namesmith
from namesmith.corpus import load_corpus
from namesmith.models.ngram import NGram
from namesmith.score import name_totals
from namesmith.styles import styled
from namesmith.vocab import Vocab


def soft_judge(names: list[str], labels: list[str], styles: list[str], vocab: Vocab):
    """A posterior(names) -> (N, S) function: per-style KN-4 with the training shares as priors (names with a
    character outside ``vocab`` are left out)."""
    models, logprior = [], []
    for s in styles:
        mine = [n for n, lab in zip(names, labels) if lab == s]
        models.append(NGram.fit({"vocab_size": vocab.size, "order": 4}, vocab.encode_many(mine)))
        logprior.append(np.log(len(mine) / len(names)))
    logprior = np.array(logprior)[:, None]

    def posterior(items: list[str]) -> np.ndarray:
        items = [n for n in items if all(c in vocab for c in n)]
        ll = np.stack([-name_totals(m, vocab.encode_many(items)) for m in models]) + logprior  # (S, N)
        p = np.exp(ll - ll.max(axis=0))
        return (p / p.sum(axis=0)).T

    return posterior


def judge(names: list[str], labels: list[str], styles: list[str], vocab: Vocab):
    """A classify(names) -> style indices function: the most probable style of :func:`soft_judge`."""
    posterior = soft_judge(names, labels, styles, vocab)
    return lambda items: posterior(items).argmax(axis=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a styled model (file or shipped name)")
    ap.add_argument("--corpus", help="its labelled corpus (default: the model's own built-in corpus)")
    ap.add_argument("--strengths", default="0,0.5,1,2,3")
    ap.add_argument("--per-style", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    ck = namesmith.load(a.model)
    corpus = load_corpus(a.corpus or ck.corpus_name.removeprefix("builtin:"))
    rng = np.random.default_rng(a.seed)
    idx = rng.permutation(len(corpus.names))
    cut = len(idx) // 10
    test, train = idx[:cut], idx[cut:]
    names, labels = list(corpus.names), list(corpus.labels)
    vocab = Vocab.from_names(names)
    styles = ck.styles
    classify = judge([names[i] for i in train], [labels[i] for i in train], styles, vocab)
    real = {}
    for k, s in enumerate(styles):
        held = [names[i] for i in test if labels[i] == s]
        real[s] = float(np.mean(classify(held) == k)) if held else float("nan")
    known = set(names)
    rows = []
    for g in (float(x) for x in a.strengths.split(",")):
        t = time.perf_counter()
        per, nll_sum, tokens = {}, 0.0, 0
        for k, s in enumerate(styles):
            got = [x.name for x in ck.sample(a.per_style, style=s, style_strength=g, seed=a.seed + k)]
            share = float(np.mean(classify(got) == k))
            per[s] = {"share": share, "fidelity": share / real[s] if real[s] > 0 else None,
                      "novel": float(np.mean([n not in known for n in got]))}
            held = [names[i] for i in test if labels[i] == s and all(c in ck.vocab for c in names[i])]
            enc = ck.vocab.encode_many(held)
            nll_sum += float(name_totals(styled(ck.model, styles, s, g), enc).sum())
            tokens += int(enc.tokens)
        fid = [v["fidelity"] for v in per.values() if v["fidelity"] is not None]
        rows.append({"strength": g, "mean_fidelity": statistics.mean(fid), "median_fidelity": statistics.median(fid),
                     "min_fidelity": min(fid), "styles_at_0.9": sum(f >= 0.9 for f in fid), "styles": len(fid),
                     "mean_novel": statistics.mean(v["novel"] for v in per.values()),
                     "heldout_nll": nll_sum / tokens,  # real names of the 10%, each under its own style
                     "seconds": time.perf_counter() - t, "per_style": per})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "per_style"}), file=sys.stderr)
    print(json.dumps({"model": a.model, "corpus": a.corpus or ck.corpus_name, "per_style_samples": a.per_style,
                      "judge": "per-style KN-4 Bayes classifier on a 90% split", "real_share": real,
                      "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
