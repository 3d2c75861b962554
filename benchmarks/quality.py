"""Train one namesmith configuration on names-ssa2018/train.txt and measure it on test.txt.

Protocol (honest held-out NLL): the model trains on train.txt; 5% of train.txt
is split off as validation data for checkpoint selection and mixture weights;
test.txt is only ever used for the final measurement. NLL is nats per
character with the end token included, as makemore reports it.

    python benchmarks/quality.py --name gru-default --seconds 170 -- --model gru --hidden 256 ...
    python benchmarks/quality.py --name default --preset default

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))
DATA = SHARED / "data" / "names-ssa2018"


def peak_rss_mb_of_children() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def networks_alone(ck, networks: list, test: str) -> list[float]:
    """Each network of an ensemble (``--ensemble``) alone on the test names."""
    from namesmith.corpus import load_corpus
    from namesmith.train import heldout_nll

    encoded = ck.vocab.encode_many(load_corpus(test).names)
    return [heldout_nll(net, encoded) for net in networks]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--seconds", type=float, help="time budget (--time-limit) for training")
    ap.add_argument("--preset")
    ap.add_argument("--out-dir", default=str(HERE / "out"))
    ap.add_argument("--val-fraction", default="0.05")
    ap.add_argument("--test", default=str(DATA / "test.txt"))
    ap.add_argument("--train", default=str(DATA / "train.txt"))
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    extra = [x for x in a.args if x != "--"]
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / f"{a.name}.npz"
    cmd = [sys.executable, "-m", "namesmith", "train", a.train, "--val-fraction", a.val_fraction,
           "--samples", "0", "--no-progress", "-o", str(model)]
    if a.seconds:
        cmd += ["--time-limit", str(a.seconds)]
    if a.preset:
        cmd += ["--preset", a.preset]
    cmd += extra
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode
    rss = peak_rss_mb_of_children()

    def evaluate(path: Path) -> dict:
        r = subprocess.run([sys.executable, "-m", "namesmith", "eval", str(path), a.test, "--json"],
                           capture_output=True, text=True, check=True)
        return json.loads(r.stdout)

    test = evaluate(model)
    neural = model.with_name(model.stem + ".neural.npz")
    from namesmith.checkpoint import load_checkpoint

    ck = load_checkpoint(model)
    metrics_path = model.with_name(model.stem + ".metrics.jsonl")  # fitted (count) models have none
    metrics = [json.loads(x) for x in metrics_path.read_text().splitlines()] if metrics_path.exists() else []
    cps = [m["chars_per_s"] for m in metrics if "chars_per_s" in m]
    train_meta = ck.meta.train
    parts = getattr(ck.model, "parts", [ck.model])
    networks = [m for m in parts if m.trainable]
    result = {
        "name": a.name,
        "command": "namesmith " + " ".join(cmd[3:]),
        "model": ck.model.describe(),
        "params": sum(m.num_params() for m in networks),  # network weights (n-gram tables not counted)
        "neural_model": networks[0].describe() if networks and len(parts) > 1 else None,
        "neural_params": sum(m.num_params() for m in networks),
        "test_nll": test["nll"],
        "test_bits_per_char": test["bits_per_char"],
        "val_nll": ck.meta.metrics.val_nll,
        "neural_test_nll": evaluate(neural)["nll"] if neural.exists() else None,
        "networks_test_nll": networks_alone(ck, networks, a.test) if len(networks) > 1 else None,
        "steps": train_meta.step,
        "wall_seconds": wall,
        "chars_per_s": sorted(cps)[len(cps) // 2] if cps else None,
        "peak_rss_mb": rss,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
