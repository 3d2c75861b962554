#!/usr/bin/env python3
"""Build the large benchmark corpora (not committed: they are made here, on demand).

    python -m venv /tmp/corpora && /tmp/corpora/bin/pip install wordfreq==3.1.1
    /tmp/corpora/bin/python scripts/build_large_corpora.py      # writes benchmarks/data/*.txt

Source: the ``wordfreq`` package (code Apache-2.0; its word lists are
CC-BY-SA 4.0, built by Robyn Speer from Wikipedia, subtitles, news, books,
web text and more; see https://github.com/rspeer/wordfreq#license). The word
lists are redistributable under CC-BY-SA 4.0 with attribution; namesmith does
not commit them, only this script.

* ``words-1m.txt``: 1,000,000 distinct lowercase words of 13 European languages
  written in the Latin script (en de fr es it pt nl pl cs sv nb fi ca), taken
  round-robin from each language's ``large`` list in frequency order (so every
  language contributes its most common words), 2-20 letters, letters of the
  Latin-1 / Latin Extended-A blocks plus ``'`` and ``-`` only; then shuffled
  with a fixed seed so that the first 100k or 300k lines are a fair sample
  (``head -n 100000``) for the growth benchmarks.
* ``kanji-20k.txt``: the 20,000 most frequent Japanese words of the ``best``
  list made only of letters (kanji, kana), in frequency order: an alphabet of
  2,686 distinct symbols for the large-alphabet benchmarks.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "sv", "nb", "fi", "ca"]
WORDS = 1_000_000
KANJI = 20_000
SEED = 20261128
LATIN = re.compile(r"^[a-zß-öø-ÿ\u0100-\u017f'-]{2,20}$")


def latin_words() -> list[str]:
    import wordfreq

    streams = []
    for lang in LANGUAGES:
        words = (unicodedata.normalize("NFC", w) for w in wordfreq.get_frequency_dict(lang, "large"))
        streams.append(w for w in words if LATIN.match(w))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < WORDS and streams:
        for stream in list(streams):
            word = next(stream, None)
            if word is None:
                streams.remove(stream)
            elif word not in seen:
                seen.add(word)
                out.append(word)
    out = out[:WORDS]
    random.Random(SEED).shuffle(out)
    return out


def kanji_words() -> list[str]:
    import wordfreq

    words = (unicodedata.normalize("NFC", w) for w in wordfreq.get_frequency_dict("ja", "best"))
    keep = [w for w in words if all(unicodedata.category(c).startswith("L") for c in w)]
    return keep[:KANJI]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into (default: benchmarks/data)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in (("words-1m.txt", latin_words), ("kanji-20k.txt", kanji_words)):
        items = build()
        path = args.out / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(w + "\n" for w in items), encoding="utf-8")
        tmp.replace(path)
        print(f"{path}: {len(items):,} lines, {len(set(''.join(items))):,} distinct symbols")
    return 0


if __name__ == "__main__":
    sys.exit(main())
