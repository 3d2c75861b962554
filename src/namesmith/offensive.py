"""Offensive names: a maintained word list, the normalisation people use to dodge filters, no Scunthorpe.

The list is ``glin-profanity``'s (MIT licence; 3,514 words and phrases in 24
languages, derived from the LDNOOBW lists; its Turkish list is left out, see
``LEFT_OUT``), read from its dictionary files; the
matching is namesmith's own. A name and every word of the list are reduced to a
*key*: accents folded (``é`` as ``e``), lowercased, leetspeak read as letters
(``0 1 3 4 5 7 8 9 @ $ ! |`` as ``o i e a s t b g a s i l``) and everything but
letters dropped; a name's key is also tried with its repeated letters as one and
as two (``shiiit`` as ``shit``, ``asss`` as ``ass``). A name is offensive when

* **whole**: a key of the name, or of one of its parts (split at spaces and
  hyphens), is a listed word: an English one of 3 letters or more, another
  language's of 4 or more (their short words are mild: Turkish ``it``, dog):
  ``Fvck``, ``B1tch``, ``Big-Dick``;
* **embedded**: a key of the name contains an English listed word of 4 letters
  or more (the other lists hold mild words, Finnish ``hitto``) that is
  *unambiguous there*: fewer than 4 real names hold it in the same place (at the
  start, in the middle, at the end). Real names are the names of every built-in
  corpus (given names, surnames, the world corpora: about 135,000 distinct), so
  ``hell`` never flags ``Michelle``, ``cock`` never ``Hitchcock`` (many surnames
  end so), ``shit`` never ``Yamashita``, while ``Shitiqua`` is flagged (three real
  names, Shital, Shitao and Shitong, start so).

A real name (in a built-in corpus, or one of the model's own training names) is
never offensive for a word inside it (``Draper``, ``Atwater``); one that
is a listed word as a whole (``Dick``, ``Cumming``) passes in the default mode
``block`` and is rejected in ``strict``; ``allow`` turns the check off. The
false-rejection rate on real names and the share of samples rejected are measured
in BENCHMARKS.md ("Offensive names", ``benchmarks/offensive.py``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import regex

from .corpus import BUILTIN_CORPORA, load_corpus
from .errors import NamesmithError

MODES = ("block", "strict", "allow")
EMBED_MIN = 4  # the shortest listed word searched for inside a longer name (a key's letters)
REAL_MIN = 4  # real names holding a word in the same place that make it ambiguous there (3 until the world corpus
# gained Chinese and Indian names: shitao, shitong and shital made "shit" at the start ambiguous)
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a",
                      "$": "s", "!": "i", "|": "l"})
_RUNS = re.compile(r"(.)\1+")
_RUNS3 = re.compile(r"(.)\1{2,}")
_PARTS = re.compile(r"[\s\-]+")


def letters(text: str) -> str:
    """``text`` with accents folded, lowercased, leetspeak read as letters, only letters kept."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in folded.lower().translate(LEET) if c.isalpha())


@dataclass(frozen=True)
class Verdict:
    """Why a name is offensive: ``how`` is ``"whole"`` or ``"embedded"``; ``word`` the listed word's key."""

    how: str
    word: str
    real: bool  # the name is a real name (a whole match that the default mode lets pass)


EMBED_LANGUAGES = ("english",)  # whose words are searched inside names, and matched whole from 3 letters
# lists left out: glin-profanity's Turkish list (1,034 entries) holds everyday words ("bira" beer, "takip" follow,
# "lanet" curse) that rejected 9 of 27 names flagged in 30,000 samples of given-names ("Bira", "Takip", "Annan")
LEFT_OUT = ("turkish",)
WHOLE_MIN = 4  # the shortest word of the other lists matched as a whole name (their short words are mild: "it")


@functools.cache
def listed_words() -> tuple[frozenset[str], frozenset[str], tuple[int, ...]]:
    """The list's keys matched as a whole name or part, the English ones searched inside names, and the
    lengths of the latter."""
    try:
        from glin_profanity.data.dictionary import DictionaryLoader  # on first use: 0.1 s
    except ImportError:  # pragma: no cover - a dependency of namesmith
        raise NamesmithError("the offensive-name filter needs glin-profanity: pip install glin-profanity") from None
    loader = DictionaryLoader()
    main = {letters(w) for lang in EMBED_LANGUAGES for w in loader.get_words(lang)} - {""}
    every = [w for lang in loader.available_languages if lang not in LEFT_OUT for w in loader.get_words(lang)]
    whole = {k for k in map(letters, every) if len(k) >= WHOLE_MIN}
    whole |= {k for k in main if len(k) >= 3}
    embed = frozenset(k for k in main if len(k) >= EMBED_MIN)
    return frozenset(whole), embed, tuple(sorted({len(k) for k in embed}))


def variants(key: str) -> tuple[str, ...]:
    """A key as written, with repeated letters as one and as two (``shiiit``: shit; ``asss``: ass)."""
    if not _RUNS.search(key):
        return (key,)
    return tuple(dict.fromkeys((key, _RUNS.sub(r"\1", key), _RUNS3.sub(r"\1\1", key))))


@functools.cache
def real_names() -> tuple[frozenset[str], str]:
    """Every built-in corpus's distinct names (lowercased), and their keys one per line (for the embedded
    words' ambiguity). The keys are made on the joined text at once: 110,000 names in 0.2 s."""
    names: set[str] = set()
    for spec in BUILTIN_CORPORA:
        names.update(load_corpus(spec).names)
    text = regex.sub(r"\p{M}+", "", unicodedata.normalize("NFKD", "\n".join(sorted(names)))).lower().translate(LEET)
    return frozenset(names), regex.sub(r"[^\p{L}\n]+", "", text)


PLACES = {"start": "(?m)^{}(?=.)", "middle": "(?m)(?<=.){}(?=.)", "end": "(?m)(?<=.){}$"}


@functools.cache
def unambiguous(word: str, place: str) -> bool:
    """Whether fewer than ``REAL_MIN`` real names hold the listed word's key in ``place`` (start, middle, end)."""
    found = regex.findall(PLACES[place].format(regex.escape(word)), real_names()[1])
    return len(found) < REAL_MIN


def is_real(name: str) -> bool:
    return name.lower() in real_names()[0]


def _key(text: str) -> str:
    return text.lower() if text.isascii() and text.isalpha() else letters(text)


def whole_match(name: str) -> str | None:
    """The listed word the name, or one of its parts, is (its key), else None."""
    whole = listed_words()[0]
    parts = (name, *_PARTS.split(name)) if " " in name or "-" in name else (name,)
    for part in parts:
        for key in variants(_key(part)):
            if key in whole:
                return key
    return None


def embedded_match(name: str) -> str | None:
    """An unambiguous English listed word inside the name's key (not the whole key), else None."""
    _, embed, sizes = listed_words()
    for key in variants(_key(name)):
        n = len(key)
        for size in sizes:
            if size >= n:
                break
            for start in range(n - size + 1):
                word = key[start:start + size]
                if word in embed:
                    place = "start" if start == 0 else "end" if start + size == n else "middle"
                    if unambiguous(word, place):
                        return word
    return None


def check(name: str, known: bool = False) -> Verdict | None:
    """Why ``name`` is offensive (None if it is not); ``known``: it is one of the model's training names. A real
    name holding a listed word inside (Draper, Atwater) is never offensive: that is the Scunthorpe rule."""
    word = whole_match(name)
    if word is not None:
        return Verdict("whole", word, known or is_real(name))
    word = embedded_match(name)
    return None if word is None or known or is_real(name) else Verdict("embedded", word, False)


def rejects(name: str, mode: str, known: bool = False) -> bool:
    """Whether the filter in ``mode`` (``block``, ``strict`` or ``allow``) rejects ``name``."""
    if mode == "allow":
        return False
    verdict = check(name, known)
    return verdict is not None and not (verdict.real and mode == "block")


def flag(name: str) -> str | None:
    """What score and classify say of a name (they flag, never refuse): None when it is not offensive."""
    verdict = check(name)
    if verdict is None:
        return None
    if verdict.how == "embedded":
        return "holds an offensive word"
    return "a real name, also an offensive word" if verdict.real else "an offensive word"


def tables() -> dict:
    """The filter as data, for ports (the export's ``offensive`` entry; docs/export-format.md): the keys matched
    whole, each embedded word with the places it is unambiguous in (``s``tart, ``m``iddle, ``e``nd), the real
    names that match either way (a whole match of one is real; an embedded match of one is none), and the
    leetspeak map. A port that follows the rules above with
    these tables judges every name as this module does (tests/test_export.py)."""
    whole, embed, _ = listed_words()
    places = {w: "".join(p[0] for p in PLACES if unambiguous(w, p)) for w in sorted(embed)}
    real = sorted(n for n in real_names()[0] if whole_match(n) is not None or embedded_match(n) is not None)
    return {"whole": sorted(whole), "embed": {w: p for w, p in places.items() if p}, "real": real,
            "leet": {chr(k): v for k, v in LEET.items()}, "embed_min": EMBED_MIN}
