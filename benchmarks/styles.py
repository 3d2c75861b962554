"""Styles, measured on the built-in ``world`` corpus (35 styles): one conditional model against separate
per-style models, classification against a per-style Kneser-Ney Bayes classifier, fine-tuning on small
lists of styles the base never saw, and what blends do.

Split: per style, a fixed 10% of the names (seed 0) is the test set, used once, and a name listed under
several styles goes wholly to one side (so every test name is new to every model); models hold out their
own validation names from the rest as usual. Prints one JSON object.

    python benchmarks/styles.py                      # both parts, one after the other: about 40 minutes
    python benchmarks/styles.py --part conditional   # the conditional model, classification, separate models, blends
    python benchmarks/styles.py --part finetune      # the fine-tuning base and the small lists
    python benchmarks/styles.py --quick              # fewer separate models (the 8 smallest styles)

``benchmarks/run.py --only styles`` runs the two parts at the same time, one per core, and merges them.
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
from namesmith.models.ngram import NGram
from namesmith.styles import evaluate_styles
from namesmith.vocab import Vocab
from paired import name_scores, paired, paired_bootstrap  # benchmarks/paired.py

UNSEEN = ["Finnish", "Zulu"]  # styles the fine-tuning base never sees
# the recipe of the one conditional model and of the fine-tuning base (about 10 minutes each on one core)
# one network of --preset best as it was when these figures were measured (0.7.0's best trains two, with patience 3)
ONE_MODEL = {"preset": "best", "ensemble": 1, "patience": 10, "style_balance": 0.5}
ONE_MODEL_TEXT = "--preset best --ensemble 1 --patience 10 --style-balance 0.5"
QUIET = {"log": lambda s: None, "samples": 0, "tune_process": True}  # BLAS threads chosen by measurement


def split(corpus: Corpus, seed: int = 0) -> tuple[Corpus, Corpus]:
    train, test = corpus.split(0.1, seed)
    return train, test


def write_tsv(path: Path, c: Corpus) -> Path:
    path.write_text("".join(f"{n}\t{s}\n" for n, s in zip(c.names, c.labels)), encoding="utf-8")
    return path


def only(c: Corpus, styles) -> Corpus:
    keep = [i for i, s in enumerate(c.labels) if s in styles]
    return Corpus(tuple(c.names[i] for i in keep), c.source, tuple(c.labels[i] for i in keep))


def kn_bayes(train: Corpus, test: Corpus, order: int = 4) -> dict:
    """Per-style KN-4 fitted separately; classify test names by Bayes (training priors); and per-style NLL."""
    styles = train.styles
    vocab = Vocab.from_names(train.names + test.names)
    enc = vocab.encode_many(test.names)
    from namesmith.score import name_totals

    ll, prior = [], []
    for s in styles:
        mine = only(train, [s])
        m = NGram.fit({"vocab_size": vocab.size, "order": order}, vocab.encode_many(mine.names))
        ll.append(-name_totals(m, enc))
        prior.append(len(mine))
    ll = np.array(ll) + np.log(np.array(prior) / sum(prior))[:, None]
    given = np.array([styles.index(s) for s in test.labels])
    right = ll.argmax(axis=0) == given
    per = [right[given == i].mean() for i in range(len(styles)) if (given == i).any()]
    return {"accuracy": float(right.mean()), "macro_accuracy": float(np.mean(per)), "right": right}


def accuracy_gain(cond, test: Corpus, kn_right: np.ndarray) -> dict:
    """The conditional model's accuracy minus KN-4 Bayes's, in points, with its spread over resamples of the
    test names (paired: the same names for both)."""
    right = np.array([r.style == s for r, s in zip(cond.classify(list(test.names)), test.labels)])
    ones = np.ones(len(right))
    boot = paired_bootstrap(1.0 - kn_right, 1.0 - right, ones, 2000, np.random.default_rng(0))  # error rates
    return {"conditional_accuracy": float(right.mean()), "points": 100 * float(right.mean() - kn_right.mean()),
            "se_points": 100 * boot["diff_se"], "points_95": [-100 * boot["diff_95"][1], -100 * boot["diff_95"][0]]}


def separate_models(train: Corpus, test: Corpus, styles, tmp: Path, cond) -> dict:
    """For each style: --preset fast and KN-5 trained on that style alone; test NLL on its test names; the
    conditional model against the better of the two, paired on the names all three score."""
    out = {}
    for s in styles:
        tr, te = only(train, [s]), only(test, [s])
        f = tmp / f"{s}.txt"
        f.write_text("\n".join(tr.names) + "\n", encoding="utf-8")
        t = time.perf_counter()
        fast = namesmith.fit(f, preset="fast", **QUIET)
        fast_s = time.perf_counter() - t
        kn = namesmith.fit(f, model="ngram", order=5, **QUIET)
        out[s] = {"train_names": len(tr), "test_names": len(te), "fast_seconds": fast_s,
                  "fast_nll": fast.evaluate(list(te.names)).nll, "kn5_nll": kn.evaluate(list(te.names)).nll}
        better = fast if out[s]["fast_nll"] <= out[s]["kn5_nll"] else kn
        (b, tokens), (c, _) = name_scores(better, list(te.names)), name_scores(cond, list(te.names), s)
        out[s]["paired_conditional_vs_separate"] = paired(b, c, tokens)
    return out


def blend_shares(ck, a: str, b: str, n: int = 400) -> list[dict]:
    out = []
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        names = [x.name for x in ck.sample(n, seed=11, style=f"{a}={w},{b}={1 - w}")]
        res = ck.classify(names)
        share = float(np.mean([r.style == a for r in res]))
        out.append({"weight_a": w, "share_classified_a": share})
    return out


def finetune(train: Corpus, test: Corpus, tmp: Path) -> dict:
    """A base without UNSEEN styles; then lists of 50 and 200 names of each unseen style."""
    keep = [i for i, s in enumerate(train.labels) if s not in UNSEEN]
    base_corpus = Corpus(tuple(train.names[i] for i in keep), "base", tuple(train.labels[i] for i in keep))
    base_path = write_tsv(tmp / "base.tsv", base_corpus)
    t = time.perf_counter()
    namesmith.fit(base_path, tmp / "base.npz", **ONE_MODEL, **QUIET)
    out = {"base_seconds": time.perf_counter() - t, "lists": []}
    rng = np.random.default_rng(0)
    for s in UNSEEN:
        pool, te = list(only(train, [s]).names), list(only(test, [s]).names)
        for size in (50, 200):
            small = [pool[i] for i in rng.choice(len(pool), size, replace=False)]
            f = tmp / f"{s}-{size}.txt"
            f.write_text("\n".join(small) + "\n", encoding="utf-8")
            row = {"style": s, "names": size, "test_names": len(te)}
            t = time.perf_counter()
            tuned = namesmith.fit(f, init_from=tmp / "base.npz", **QUIET)
            row["finetuned_nll"] = tuned.evaluate(te).nll
            row["finetune_seconds"] = time.perf_counter() - t
            scratch = {"fast": namesmith.fit(f, preset="fast", **QUIET)}
            scratch.update({o: namesmith.fit(f, model="ngram", order=o, **QUIET) for o in (3, 4, 5)})
            nll = {k: m.evaluate(te).nll for k, m in scratch.items()}
            row["scratch_fast_nll"] = nll.pop("fast")
            row["kn_nll"] = nll
            best = min(scratch, key=lambda k: row["scratch_fast_nll"] if k == "fast" else nll[k])
            (b, tokens), (c, _) = name_scores(scratch[best], te), name_scores(tuned, te)
            row["paired_vs_best_scratch"] = {"scratch": str(best), **paired(b, c, tokens)}
            out["lists"].append(row)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--part", choices=["all", "conditional", "finetune"], default="all")
    a = ap.parse_args()
    world = load_corpus("world")
    train, test = split(world)
    out: dict = {"corpus": "world", "styles": len(world.styles), "train_names": len(train), "test_names": len(test)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if a.part in ("all", "conditional"):
            tr_path = write_tsv(tmp / "train.tsv", train)
            t = time.perf_counter()
            cond = namesmith.fit(tr_path, tmp / "cond.npz", **ONE_MODEL, **QUIET)
            out["conditional_fast_seconds"] = time.perf_counter() - t
            report = evaluate_styles(cond.model, cond.vocab, list(test.names), list(test.labels), cond.styles,
                                     counts=cond.style_counts)
            out["conditional"] = {k: report[k] for k in ("nll", "accuracy", "macro_accuracy", "per_style")}
            kn = kn_bayes(train, test)
            out["kn4_bayes"] = {k: v for k, v in kn.items() if k != "right"}
            out["classification_gain"] = accuracy_gain(cond, test, kn["right"])
            counts = train.style_counts()
            styles = sorted(counts, key=counts.get)[:8] if a.quick else list(counts)
            out["separate"] = separate_models(train, test, styles, tmp, cond)
            out["blend"] = {"styles": ["Italian", "German"], "shares": blend_shares(cond, "Italian", "German")}
        if a.part in ("all", "finetune"):
            out["finetune"] = finetune(train, test, tmp)
    out["one_model_preset"] = ONE_MODEL_TEXT
    out["command"] = "python benchmarks/styles.py" + (" --quick" if a.quick else "")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
