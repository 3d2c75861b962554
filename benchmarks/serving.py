"""The web API's throughput, old server and new side by side, round by round: ``POST /api/generate``
(n = 20) under wrk (2 threads, 8 keep-alive connections, 10 s, unpinned: wrk shares the 2 cores with the
server), the standard-library server of an older version against the FastAPI/uvicorn server at 1 and 2
worker processes, each serving a model its own version trained. Rounds are interleaved (old, new 1, new 2,
then again); every round is reported, with its ratio to the old server of the same round. Prints one JSON
object.

    git archive 755fb8c src | tar -x -C ../old     # the last version with the standard-library server
    PYTHONPATH=../old/src python -m namesmith train --model rnn --hidden 128 --steps 500 --mix-ngram 0 -o old.npz
    namesmith train --model rnn --hidden 128 --steps 500 --mix-ngram 0 -o new.npz
    python benchmarks/serving.py ../old/src old.npz new.npz --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(model: str, *extra: str) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "web_load.py"), model, "--clients", "8", "--seconds", "10",
                          *extra], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old_src")
    ap.add_argument("old_model", help="a model trained by the old version")
    ap.add_argument("new_model", help="the same configuration trained by this version")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    servers = {"old (stdlib, threads)": (a.old_model, ["--src", a.old_src]),
               "new, 1 worker": (a.new_model, ["--workers", "1"]),
               "new, 2 workers": (a.new_model, ["--workers", "2"])}
    rounds = []
    for _ in range(a.rounds):
        row = {label: load(model, *extra) for label, (model, extra) in servers.items()}
        old = row["old (stdlib, threads)"]["requests_per_s"]
        rounds.append({label: {"requests_per_s": r["requests_per_s"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                               "errors": r["errors"], "vs_old": r["requests_per_s"] / old}
                       for label, r in row.items()})
    summary = {label: {"median_requests_per_s": statistics.median(r[label]["requests_per_s"] for r in rounds),
                       "min_vs_old": min(r[label]["vs_old"] for r in rounds),
                       "max_p99_ms": max(r[label]["p99_ms"] for r in rounds)} for label in servers}
    print(json.dumps({"rounds": rounds, "summary": summary, "wrk": "2 threads, 8 connections, 10 s, unpinned",
                      "command": f"python benchmarks/serving.py {a.old_src} {a.old_model} {a.new_model} "
                                 f"--rounds {a.rounds}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
