"""How namesmith grows with the corpus: 100k, 300k and 1M words, and a 2,686-symbol alphabet.

The corpora are made by ``scripts/build_large_corpora.py`` (wordfreq, not
committed) into benchmarks/data/; the 100k and 300k corpora are the first lines
of the shuffled 1M one. Each measurement runs in its own child process, so its
peak RSS (VmHWM) and time are its own:

* ``read``: reading, validating, splitting and encoding the corpus (``train.load_data``);
* ``kn6``: ``namesmith train F --model ngram --order 6``: the fit, the whole run, the ``.npz`` size;
* ``default``: ``namesmith train F --steps 100`` (the default preset: LSTM-256 + 6-gram mixture): everything
  but the training steps (= the run's wall time minus its "training steps" phase), training chars/s;
* ``kanji``: the default preset for 300 steps on 20k Japanese words (2,686 symbols; the mixture's n-gram
  is order 5, the highest whose keys fit 64 bits), its n-gram's size on its own, and sampling speed.

    /tmp/corpora/bin/python scripts/build_large_corpora.py   # once
    python benchmarks/scale.py                                # prints one JSON object (~6 minutes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SIZES = {"100k": 100_000, "300k": 300_000, "1M": 1_000_000}


def corpus(label: str) -> Path:
    big = DATA / "words-1m.txt"
    if not big.exists():
        raise SystemExit(f"{big} is absent: run scripts/build_large_corpora.py first")
    if label == "1M":
        return big
    path = DATA / f"words-{label}.txt"
    if not path.exists():
        with big.open(encoding="utf-8") as src:
            path.write_text("".join(line for _, line in zip(range(SIZES[label]), src)), encoding="utf-8")
    return path


# ----- children: one measurement each, printing one JSON line -----------------------------------
def child(kind: str, path: str, out: str) -> dict:
    import namesmith
    from peakrss import peak_rss_mb

    t0 = time.perf_counter()
    if kind == "read":
        from namesmith.config import TrainConfig
        from namesmith.train import load_data

        data = load_data(TrainConfig(corpus=path))
        return {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb(), "names": len(data.source),
                "symbols": data.vocab.size}
    options = {"read": {}, "kn6": {"model": "ngram", "order": 6}, "default": {"steps": 100},
               "kanji": {"steps": 300}, "kanji-ngram": {"model": "ngram", "order": 5}}[kind]
    ck = namesmith.fit(path, out, samples=0, log=lambda s: None, **options)
    wall = time.perf_counter() - t0
    phases = dict(ck.run.phases)
    result = {"seconds": wall, "peak_rss_mb": peak_rss_mb(), "phases": phases, "npz_mb": Path(out).stat().st_size / 1e6,
              "val_nll": ck.meta.metrics.val_nll, "symbols": ck.vocab.size,
              "setup_seconds": wall - phases.get("training steps", 0.0), "chars_per_s": ck.run.chars_per_s}
    if kind == "kanji":
        ck.sample(100, seed=0)  # warm
        t = time.perf_counter()
        n = len(ck.sample(2000, seed=1))
        result["sample_names_per_s"] = n / (time.perf_counter() - t)
    return result


def measure(kind: str, path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(path), str(Path(tmp) / "m.npz")]
        print(f"[{time.strftime('%H:%M:%S')}] {kind} {path.name}", file=sys.stderr, flush=True)
        proc = subprocess.run(args, capture_output=True, text=True, cwd=HERE)
        if proc.returncode != 0:
            raise SystemExit(f"{kind} {path.name} failed:\n{proc.stderr[-2000:]}")
        return json.loads(proc.stdout.splitlines()[-1])


def growth(small: float, large: float, ratio: float) -> float:
    """The exponent k of ``cost ~ size^k`` between two sizes (1 = linear)."""
    import math

    return math.log(large / small) / math.log(ratio)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=3, metavar=("KIND", "CORPUS", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        sys.path.insert(0, str(HERE))
        print(json.dumps(child(*a.child)))
        return 0
    out: dict = {"sizes": {}}
    for label in SIZES:
        path = corpus(label)
        out["sizes"][label] = {kind: measure(kind, path) for kind in ("read", "kn6", "default")}
    kanji = DATA / "kanji-20k.txt"
    out["kanji"] = {"default": measure("kanji", kanji), "ngram": measure("kanji-ngram", kanji)}
    s = out["sizes"]
    out["growth_100k_to_1M"] = {  # exponents: 1.0 = linear
        "read_seconds": growth(s["100k"]["read"]["seconds"], s["1M"]["read"]["seconds"], 10),
        "kn6_fit_seconds": growth(s["100k"]["kn6"]["phases"]["fitting"], s["1M"]["kn6"]["phases"]["fitting"], 10),
        "kn6_npz_mb": growth(s["100k"]["kn6"]["npz_mb"], s["1M"]["kn6"]["npz_mb"], 10),
        "default_setup_seconds": growth(s["100k"]["default"]["setup_seconds"], s["1M"]["default"]["setup_seconds"], 10),
        "default_peak_rss_mb": growth(s["100k"]["default"]["peak_rss_mb"], s["1M"]["default"]["peak_rss_mb"], 10),
    }
    out["command"] = "python benchmarks/scale.py"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
