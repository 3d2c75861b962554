"""The one place where text is normalised: Unicode NFC, optional lowercasing, optional accent folding.

Corpora, prefixes, filters, scored names and evaluation files all pass through
:func:`normalize`, so a name typed on the command line, in the web page or in a
file is compared with the training names in exactly the same form.

Accent folding (``--fold-accents``) reads a character the model never saw as its
base letters when those are in the alphabet: NFKD decomposition without the
combining marks, so ``ë`` → ``e``, ``Å`` → ``A``, ``ﬁ`` → ``fi``. A character
whose folded form is not in the alphabet stays as it is (and is then reported
as unknown).
"""

from __future__ import annotations

import unicodedata
from typing import Container


def normalize(text: str, lowercase: bool) -> str:
    """NFC form, lowercased (and NFC again, as lowercasing can decompose) when ``lowercase``."""
    text = unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", text.lower()) if lowercase else text


def fold_char(ch: str) -> str:
    """``ch`` without accents: its NFKD decomposition minus combining marks (may be empty or longer)."""
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))


def fold_accents(text: str, alphabet: Container[str]) -> str:
    """Replace each character outside ``alphabet`` by its folded form when all of that is inside it."""
    out = []
    for ch in text:
        if ch not in alphabet:
            folded = fold_char(ch)
            if folded and all(c in alphabet for c in folded):
                ch = folded
        out.append(ch)
    return "".join(out)


def is_control(ch: str) -> bool:
    """C0/C1 control characters (tab included) and the Unicode line/paragraph separators."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


# name particles written in lowercase after the first part ("Ludwig van Beethoven", "Van der Berg", "Mac an
# tSaoi", "Maria da Silva"); the first part is always capitalised ("De Hann", "Van der Berg")
PARTICLES = frozenset("van von der den de del della di da das do dos du la le les 't te ter ten an na y e zu und "
                      "bin binti ibn".split())


def capitalised(name: str) -> str:
    """A lowercased name as people write it: each part after a space or a hyphen starts with a capital
    ("mary-jane smith" -> "Mary-Jane Smith"), except a particle after the first part (:data:`PARTICLES`:
    "van der berg" -> "Van der Berg"); the rest of the name is kept as it is."""
    words = name.split(" ")
    return " ".join(w if i and w in PARTICLES else _capital_parts(w) for i, w in enumerate(words))


def _capital_parts(word: str) -> str:
    out, start = [], True
    for c in word:
        out.append(c.upper() if start and c.islower() else c)
        start = c == "-"
    return "".join(out)
