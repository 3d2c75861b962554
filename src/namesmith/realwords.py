"""Names new to the world: rejecting common words of a language (wordfreq) and names of a built-in corpus.

For brand and fantasy naming, "new" must mean new to the world, not only to the
training list:

* ``no_words="en"``: a name that is a common word of that language is rejected:
  its Zipf frequency in ``wordfreq`` (log10 of its occurrences per billion words)
  is at least ``WORD_ZIPF`` = 3.0, i.e. once per million words or more ("rose",
  "grace", "nova" pass or not by that rule; "mark", "bill" are rejected). The
  name is checked as a whole and, for a name of several parts, each part.
  ``wordfreq`` (Apache-2.0 code; its data under CC BY-SA 4.0) is the optional
  extra ``namesmith[words]``.
* ``no_real="world"`` (or any built-in corpus, or ``"all"``): a name found in that
  corpus is rejected, whatever the model was trained on.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

from .corpus import BUILTIN_CORPORA, load_corpus
from .errors import ConfigError, NamesmithError

WORD_ZIPF = 3.0  # once per million words
_PARTS = re.compile(r"[\s\-]+")
# wordfreq 3.1's languages (wordfreq.available_languages()), listed here so that options need no import
LANGUAGES = ("ar", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fil", "fr", "he", "hi", "hu",
             "id", "is", "it", "ja", "ko", "lt", "lv", "mk", "ms", "nb", "nl", "pl", "pt", "ro", "ru", "sh", "sk",
             "sl", "sv", "ta", "tr", "uk", "ur", "vi", "zh")


@functools.cache
def common_word(lang: str) -> Callable[[str], bool]:
    """Whether a name (or one of its parts) is a common word of ``lang`` (Zipf frequency >= ``WORD_ZIPF``)."""
    if lang not in LANGUAGES:
        raise ConfigError(f"no_words must be one of wordfreq's languages ({', '.join(LANGUAGES)}), got {lang!r}")
    try:
        from wordfreq import zipf_frequency  # optional: 60 MB of word lists
    except ImportError:
        raise NamesmithError("no_words needs the wordfreq package: pip install 'namesmith[words]'") from None

    @functools.lru_cache(maxsize=1 << 16)
    def is_word(name: str) -> bool:
        parts = {name, *_PARTS.split(name)} - {""}
        return any(zipf_frequency(p, lang) >= WORD_ZIPF for p in parts)

    return is_word


def corpus_choices() -> list[str]:
    return ["all", *BUILTIN_CORPORA]


@functools.cache
def real_names_of(spec: str) -> frozenset[str]:
    """The names (lowercased) of a built-in corpus, or of all of them (``"all"``)."""
    if spec not in corpus_choices():
        raise ConfigError(f"no_real must be one of {', '.join(corpus_choices())}, got {spec!r}")
    specs = BUILTIN_CORPORA if spec == "all" else [spec]
    return frozenset(n.lower() for s in specs for n in load_corpus(s).names)
