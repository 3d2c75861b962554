"""The web API's throughput, old server and new side by side: ``POST /api/generate`` (n = 20) under wrk
(2 threads, 8 keep-alive connections, 10 s), for RNN-128 and the default model, with the standard-library
server of an older version and with the FastAPI/uvicorn server at 1 and 2 worker processes. Rounds are
interleaved; each figure is the median of ``--reps``. Prints one JSON object.

    git worktree add ../old e1922e2     # the last version with the standard-library server
    python benchmarks/serving.py ../old/src RNN128.npz DEFAULT.npz --reps 3
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("models", nargs="+", metavar="NAME=MODEL")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    servers = {"old (stdlib, threads)": ["--src", a.old_src], "new, 1 worker": ["--workers", "1"],
               "new, 2 workers": ["--workers", "2"]}
    runs: dict = {}
    for _ in range(a.reps):
        for spec in a.models:
            name, _, path = spec.partition("=")
            for label, extra in servers.items():
                runs.setdefault(name, {}).setdefault(label, []).append(load(path, *extra))
    out = {"reps": a.reps, "command": "python benchmarks/serving.py ../old/src " + " ".join(a.models)
           + f" --reps {a.reps}", "models": {}}
    for name, by_server in runs.items():
        out["models"][name] = {}
        for label, rs in by_server.items():
            med = sorted(rs, key=lambda r: r["requests_per_s"])[len(rs) // 2]
            out["models"][name][label] = {"requests_per_s": med["requests_per_s"], "p50_ms": med["p50_ms"],
                                          "p99_ms": med["p99_ms"], "errors": sum(r["errors"] for r in rs),
                                          "all_requests_per_s": [r["requests_per_s"] for r in rs]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
