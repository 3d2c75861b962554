#!/usr/bin/env python3
"""Train the pretrained models shipped in src/namesmith/pretrained/ (a few minutes each on 2 cores).

    python scripts/build_pretrained.py                 # both
    python scripts/build_pretrained.py --only world    # one

Each model is the default preset trained on a built-in corpus with a fixed seed,
so the run is reproducible on the same machine and library versions; only the
final model file is kept (not its .last/.neural/metrics companions). The commands
are listed in src/namesmith/pretrained/PRETRAINED.md with the figures they gave.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "namesmith" / "pretrained"
# given-names, --ema 0: the shipped file was trained before the default preset gained the weights' moving
# average (0.4.0); this command reproduces it exactly. world was rebuilt with 0.5.0 (the split that keeps a
# name's styles on one side, mixture weights per style, --ema 0.999 from the default preset).
# given-names predates the default preset's --embed 64 and --patience 4 (0.8.0): its command pins the old values.
OLD_DEFAULT = ["--embed", "32", "--patience", "10"]
COMMANDS = {
    "given-names": ["train", "given-names", "--seed", "1337", "--ema", "0", *OLD_DEFAULT],
    # world: rebuilt in 0.9.x on the origin-labelled corpus with the default preset of its day (embed 64, patience 4,
    # an evaluation at least every 4 epochs); the 5-gram keeps the file under 8 MB
    "world": ["train", "world", "--seed", "1337", "--mix-ngram", "5"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(COMMANDS))
    args = ap.parse_args()
    for name, command in COMMANDS.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{name}.npz"
            subprocess.run([sys.executable, "-m", "namesmith", *command, "-o", str(out), "--no-progress"], check=True)
            shutil.copyfile(out, OUT / f"{name}.npz")
        print(f"{OUT / (name + '.npz')}: {(OUT / (name + '.npz')).stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
