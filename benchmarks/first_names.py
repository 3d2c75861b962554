"""Time from a fresh clone to the first styled names: a new venv, ``pip install -e .``, then
``namesmith sample world --style Italian -n 5`` (no training). Prints one JSON object.

    python benchmarks/first_names.py

pip's cache and the network make the install time vary; the sampling time is the model's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(tmp / "clone")], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(tmp / "env")], check=True)
        install = timed([str(tmp / "env" / "bin" / "pip"), "install", "-q", "-e", str(tmp / "clone")], tmp)
        first = timed([str(tmp / "env" / "bin" / "namesmith"), "sample", "world", "--style", "Italian", "-n", "5"],
                      tmp)
    print(json.dumps({"install_seconds": install, "first_names_seconds": first,
                      "command": "python benchmarks/first_names.py"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
