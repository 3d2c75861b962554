"""Two networks one after the other (each with the BLAS thread tuner, so with both cores when that is faster)
against side by side in two processes (one BLAS thread each): the wall time of ``namesmith train --ensemble 2``
with ``--jobs 1`` and ``--jobs 2``, alternated, median of ``--reps`` runs. The same two networks either way.

    python benchmarks/parallel.py --reps 3

Prints one JSON object.
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

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))
TRAIN = SHARED / "data" / "names-ssa2018" / "train.txt"
MODEL = ["--model", "lstm", "--hidden", "512", "--embed", "64", "--dropout", "0.35", "--batch-size", "128",
         "--lr", "2e-3"]


def run(jobs: int, steps: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "namesmith", "train", str(TRAIN), "-o", str(out), "--val-fraction", "0.05",
           "--samples", "0", "--no-progress", "--mix-ngram", "0", "--steps", str(steps), "--eval-every",
           str(steps), "--ensemble", "2", "--jobs", str(jobs), *MODEL]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.reps):
            for jobs in (1, 2) if rep % 2 == 0 else (2, 1):
                times[jobs].append(run(jobs, a.steps, Path(tmp) / f"m{jobs}.npz"))
    seq, side = statistics.median(times[1]), statistics.median(times[2])
    chars = 2 * a.steps * 128 * 7.12  # two networks, batch 128, ~7.12 symbols per name (end token included)
    print(json.dumps({
        "what": f"two LSTM-512 networks of {a.steps} steps (--preset best's shape), --ensemble 2", "reps": a.reps,
        "one_after_the_other_s": seq, "side_by_side_s": side, "speedup": seq / side,
        "chars_per_s_one_after_the_other": chars / seq, "chars_per_s_side_by_side": chars / side,
        "times": {str(k): v for k, v in times.items()},
        "command": "python benchmarks/parallel.py " + " ".join(sys.argv[1:]),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
