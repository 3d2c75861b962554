"""Training speed of two versions of namesmith, side by side: did a change make training slower?

Runs ``namesmith --threads 1 train`` with the same options from two source trees
(e.g. a ``git worktree`` of an older commit and this one), interleaved, and
reports the median training time (steps only: ``train_seconds``) of each and
their ratio; ``--phase`` times one phase of the run's log instead (e.g.
"evaluations and checkpoints"). One BLAS thread, so the comparison is about the
code, not the thread choice. Prints one JSON object.

    git worktree add /tmp/old <commit>
    python benchmarks/compare_versions.py /tmp/old/src src --reps 5 -- --steps 300
    python benchmarks/compare_versions.py /tmp/old/src src --phase "evaluations and checkpoints" -- --steps 1000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAMESMITH_SHARED", ROOT.parent / "shared"))
TRAIN = SHARED / "data" / "names-ssa2018" / "train.txt"


def train_seconds(src: str, options: list[str], workdir: Path, phase: str | None = None) -> float:
    for p in workdir.glob("m*"):
        p.unlink()
    env = {**os.environ, "PYTHONPATH": src}
    cmd = [sys.executable, "-m", "namesmith", "--threads", "1", "train", str(TRAIN), "--no-progress", "--samples", "0",
           "--mix-ngram", "0", "--patience", "0", "-o", str(workdir / "m.npz"), *options]
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    records = [json.loads(x) for x in (workdir / "m.metrics.jsonl").read_text().splitlines()]
    if phase is not None:
        phases = next(r["phases"] for r in records if "phases" in r)
        if phase not in phases:
            raise SystemExit(f"compare_versions.py: no phase {phase!r} in the run's log; its phases: {', '.join(phases)}")
        return phases[phase]
    return max(r.get("train_seconds", 0.0) for r in records)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", help="source tree of the first version (the folder holding namesmith/)")
    ap.add_argument("new", help="source tree of the second version")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--phase", help="time this phase of the run's log instead of the training steps")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # after --: options for namesmith train
    a, options = ap.parse_args(argv[:cut]), argv[cut + 1:]
    times = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as d:
        for rep in range(a.reps):
            for name in (("old", "new") if rep % 2 == 0 else ("new", "old")):
                times[name].append(train_seconds(getattr(a, name), options, Path(d), a.phase))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"options": options, "phase": a.phase or "training steps", "reps": a.reps, "seconds": times, "median": med,
                      "new_speed_vs_old": med["old"] / med["new"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
