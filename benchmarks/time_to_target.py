"""Time for namesmith to reach a held-out NLL, and the best NLL within a time budget.

Trains on names-ssa2018/train.txt and evaluates on test.txt every --eval-every
steps (evaluation time is not counted: the clock is training time only, as in
the PyTorch reference). Prints one JSON object.

    python benchmarks/time_to_target.py --seconds 300 -- --model rnn --embed 64 --hidden 64 ...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))
DATA = SHARED / "data" / "names-ssa2018"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="ttt")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--target", type=float, default=2.05)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--out-dir", default=str(HERE / "out"))
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    extra = [x for x in a.args if x != "--"]
    out = Path(a.out_dir) / f"{a.name}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "namesmith", "train", str(DATA / "train.txt"), "--val", str(DATA / "test.txt"),
           "--time-limit", str(a.seconds), "--eval-every", str(a.eval_every), "--patience", "0",
           "--mix-ngram", "0", "--samples", "0", "--no-progress", "-o", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    recs = [json.loads(x) for x in out.with_name(out.stem + ".metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if r.get("val_nll") is not None and "train_seconds" in r]
    steps = [r for r in recs if "train_nll" in r]
    reached = next((r["train_seconds"] for r in evals if r["val_nll"] <= a.target), None)
    best = min(evals, key=lambda r: r["val_nll"])
    train_s = steps[-1]["train_seconds"] if steps else None
    print(json.dumps({
        "impl": "namesmith",
        "command": "namesmith " + " ".join(cmd[3:]),
        "target": a.target,
        "seconds_to_target": reached,
        "best_nll": best["val_nll"],
        "best_at_seconds": best["train_seconds"],
        "final_nll": evals[-1]["val_nll"],
        "steps": steps[-1]["step"] if steps else None,
        "ms_per_step": (train_s / steps[-1]["step"] * 1e3) if steps else None,
        "curve": [(r["train_seconds"], r["step"], r["val_nll"]) for r in evals],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
