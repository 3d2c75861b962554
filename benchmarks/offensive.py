"""The offensive-name filter measured: what it rejects of each shipped model's samples, and of real names.

    python benchmarks/offensive.py [--n 100000] [--json out.json]

* Samples: ``--n`` names of each shipped model (seed 1, default options, ``offensive="allow"``) judged by the
  filter in each mode, and by a plain substring test on the same list (every listed word of 4 letters or
  more, as written, inside the lowercased name: the baseline the issue measured); then ``--n`` names with the
  default ``block`` re-judged by the filter (the target: 0). Speed: names/s with ``allow`` and ``block``,
  3 rounds interleaved, medians.
* Real names: each built-in corpus judged with the *other* corpora as the real names (leave one out), so that
  its names count as names the filter never saw: the false-rejection rate of ``block`` and ``strict``, and
  of the substring baseline, with examples.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import regex

import namesmith
from namesmith import offensive
from namesmith.corpus import BUILTIN_CORPORA, load_corpus

CORPORA = ["given-names", "census-first", "census-surnames", "world"]  # the -sex/-era lists repeat given-names


def substring_baseline():
    words = [w for w in offensive.listed_words()[0] if len(w) >= 4] + sorted(offensive.listed_words()[1])
    rx = regex.compile("|".join(map(regex.escape, sorted(set(words), key=len, reverse=True))))
    return lambda name: rx.search(offensive.letters(name)) is not None


def judge(names, naive) -> dict:
    out = {"names": len(names)}
    for mode in ("block", "strict"):
        hit = [n for n in names if offensive.rejects(n, mode)]
        out[mode] = len(hit)
        out[f"{mode}_examples"] = sorted(set(hit))[:12]
    hit = [n for n in names if naive(n)]
    out["substring"], out["substring_examples"] = len(hit), sorted(set(hit))[:12]
    return out


def samples(model: str, n: int, naive) -> dict:
    ck = namesmith.load(model)
    free = ck.sample(n, seed=1, offensive="allow")
    row = judge([s.name for s in free], naive)
    safe = ck.sample(n, seed=1)
    row["after_block"] = sum(offensive.rejects(s.name, "block") for s in safe)
    row["rejected_counted"] = safe.rejected.get("offensive", 0)
    rates = {"allow": [], "block": []}
    for r in range(3):
        for mode in ("allow", "block"):
            t = time.perf_counter()
            ck.sample(20_000, seed=100 + r, offensive=mode)
            rates[mode].append(20_000 / (time.perf_counter() - t))
    row["names_per_s"] = {m: statistics.median(v) for m, v in rates.items()}
    return row


def leave_one_out(naive) -> dict:
    every = {c: sorted(set(load_corpus(c).names)) for c in BUILTIN_CORPORA}
    rows = {}
    for c in CORPORA:
        others = set().union(*(set(v) for k, v in every.items() if k != c and not
                               (c == "given-names" and k.startswith("given-names"))))
        own = [n for n in every[c] if n not in others]  # names no other corpus holds: unseen by the filter
        offensive.real_names.cache_clear()
        offensive.unambiguous.cache_clear()
        original = offensive.real_names.__wrapped__

        names = frozenset(others)
        text = "\n".join(sorted(offensive.letters(x) for x in names))
        offensive.real_names = lambda names=names, text=text: (names, text)  # type: ignore[assignment]
        try:
            rows[c] = judge(own, naive)
        finally:
            offensive.real_names = __import__("functools").cache(original)
            offensive.unambiguous.cache_clear()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--json")
    a = ap.parse_args()
    naive = substring_baseline()
    result = {"n": a.n, "list": "glin-profanity 4.1.0", "words": len(offensive.listed_words()[0]),
              "samples": {m: samples(m, a.n, naive) for m in ("given-names", "world")},
              "real_names": leave_one_out(naive)}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
