"""Write the train/validation split of one namesmith run as two files, so other runs can share it.

    python benchmarks/split.py                      # names-ssa2018/train.txt, 5%, seed 1337
    python benchmarks/quality.py --name v1338 --train benchmarks/out/split-train.txt --val-fraction 0 \
        -- --val benchmarks/out/split-val.txt --preset best --ensemble 1 --seed 1338

A network trained this way with another ``--seed`` sees exactly the names the seed-1337 run trained on
and is selected on the same validation names, so its figures compare with that run's (and with other
variants') on one split: what ``--ensemble`` does inside one run (network k: seed + k, split from seed).
Prints one JSON object: the two paths and their sizes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from namesmith.config import resolve
from namesmith.errors import OutputError
from namesmith.files import atomic_write, refuse_inputs
from namesmith.train import load_data

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=str(SHARED / "data" / "names-ssa2018" / "train.txt"))
    ap.add_argument("--val-fraction", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--out-dir", default=str(HERE / "out"))
    a = ap.parse_args()
    data = load_data(resolve({"corpus": a.train, "val_fraction": a.val_fraction, "seed": a.seed}))
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"train": out / "split-train.txt", "val": out / "split-val.txt"}
    try:  # never write the split over the file it came from
        refuse_inputs(paths.values(), [("corpus", a.train)])
    except OutputError as e:
        raise SystemExit(f"split.py: {str(e).split(';')[0]}; choose another --out-dir") from None
    for part, names in (("train", data.train.names), ("val", data.val.names)):
        text = "".join(n + "\n" for n in names).encode()
        atomic_write(paths[part], lambda f, text=text: f.write(text))
    print(json.dumps({k: str(p) for k, p in paths.items()} | {"train_names": len(data.train.names),
                                                             "val_names": len(data.val.names)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
