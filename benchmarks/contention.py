"""Training speed on a shared machine: BLAS threads fixed at 1, at the default, or chosen by namesmith.

For each model, trains a fixed number of steps with ``--threads 1``, ``--threads N``
(N = the BLAS default, the cores) and no ``--threads`` (namesmith's measured
choice, runtime.ThreadTuner), first on a quiet machine, then while one competing
busy process (``python -c "while True: pass"``, started and stopped here) keeps a
core occupied. Rounds are interleaved; each figure is the median over ``--reps``
of the training time (steps only: ``train_seconds`` of the run's metrics).
Prints one JSON object.

    python benchmarks/contention.py --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAMESMITH_SHARED", ROOT.parent / "shared"))
TRAIN = SHARED / "data" / "names-ssa2018" / "train.txt"
MODELS = {
    "default (lstm-256, batch 64)": ["--steps", "300"],
    "lstm-256, embed 32, 200 steps": ["--embed", "32", "--steps", "200"],
    "rnn-50 (batch 256)": ["--model", "rnn", "--hidden", "50", "--embed", "0", "--dropout", "0",
                           "--batch-size", "256", "--optimizer", "sgd", "--lr", "0.01", "--clip", "value",
                           "--steps", "300"],
}


def blas_default() -> int:
    import numpy  # noqa: F401  (loads the BLAS library whose threads are counted)
    from threadpoolctl import threadpool_info

    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)


def train_seconds(threads: int | None, args: list[str], workdir: Path) -> tuple[float, float]:
    """(training steps' seconds, the whole command's wall seconds)."""
    out = workdir / "m.npz"
    for p in workdir.glob("m*"):
        p.unlink()
    cmd = [sys.executable, "-m", "namesmith", *(["--threads", str(threads)] if threads else []), "train", str(TRAIN),
           *args, "--eval-every", "100000", "--log-every", "100000", "--samples", "0", "--mix-ngram", "0",
           "--patience", "0", "--no-progress", "-o", str(out)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - t
    records = [json.loads(line) for line in (workdir / "m.metrics.jsonl").read_text().splitlines()]
    return max(r.get("train_seconds", 0.0) for r in records), wall


def measure(reps: int, busy: bool, workdir: Path, n: int) -> dict:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(0.5 if busy else 0)
        times = {m: {s: [] for s in ("1", str(n), "auto")} for m in MODELS}
        for _ in range(reps):
            for model, args in MODELS.items():
                for setting in times[model]:
                    threads = None if setting == "auto" else int(setting)
                    times[model][setting].append(train_seconds(threads, args, workdir))
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return {m: {s: {"median": statistics.median(x[0] for x in v), "wall": statistics.median(x[1] for x in v),
                    "all": v} for s, v in d.items()} for m, d in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--conditions", default="quiet,busy", help="which to measure: quiet, busy or both")
    a = ap.parse_args()
    conditions = a.conditions.split(",")
    n = blas_default()
    out = {"blas_default_threads": n, "reps": a.reps,
           "command": f"python benchmarks/contention.py --reps {a.reps} --conditions {a.conditions}"}
    with tempfile.TemporaryDirectory() as d:
        for cond in conditions:
            out[cond] = measure(a.reps, cond == "busy", Path(d), n)
    for model in MODELS:  # speed relative to one thread under the same conditions (higher is better)
        for cond in conditions:
            one, one_wall = out[cond][model]["1"]["median"], out[cond][model]["1"]["wall"]
            for s, v in out[cond][model].items():
                v["speed_vs_1_thread"] = one / v["median"]
                v["wall_speed_vs_1_thread"] = one_wall / v["wall"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
