"""The character vocabulary: the end-of-name token first, then the characters.

The end-of-name token is the newline ``"\\n"`` as in the notebook, where
``sorted(set(text))`` puts it at index 0 because it sorts before every printable
character. namesmith keeps that convention for every model: index 0 is the end
token when it is a *target*, and the start symbol when it is an *input*. A
vocabulary built from names is sorted; one extended by fine-tuning keeps the
base's order and appends the new characters, so the base's rows stay in place.

Names are encoded into :class:`Encoded`: all character ids in one flat array
plus offsets, so a million names are two arrays rather than a million objects.
"""

from __future__ import annotations

import itertools

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np

from .errors import VocabError

EOS = "\n"


def _show(ch: str) -> str:
    return repr(ch) if not ch.isprintable() or ch.isspace() else f"'{ch}'"


@dataclass(frozen=True)
class Encoded:
    """Encoded names: ``ids[offsets[i]:offsets[i+1]]`` are the character ids of name ``i`` (no end token)."""

    ids: np.ndarray  # (total characters,) int32
    offsets: np.ndarray  # (N + 1,) int64, offsets[0] == 0
    styles: np.ndarray | None = None  # (N,) int32 style id of each name (a labelled corpus), else None
    # (N, F) int32: each name's value id in each further label column (kind, sex), its column's value count
    # where the file leaves it blank (unknown); None without such columns
    factors: np.ndarray | None = None

    def with_styles(self, styles: np.ndarray | None) -> "Encoded":
        """The same names carrying the style ids ``styles (N,)``."""
        if styles is not None:
            styles = np.asarray(styles, dtype=np.int32)
            if styles.shape != (len(self),):
                raise VocabError(f"{len(self)} names need {len(self)} style ids, got shape {styles.shape}")
        return Encoded(self.ids, self.offsets, styles, self.factors)

    def with_factors(self, factors: np.ndarray | None) -> "Encoded":
        """The same names carrying their further factors' value ids ``factors (N, F)``."""
        if factors is not None:
            factors = np.asarray(factors, dtype=np.int32)
            if factors.ndim != 2 or factors.shape[0] != len(self):
                raise VocabError(f"{len(self)} names need a row of factor ids each, got shape {factors.shape}")
        return Encoded(self.ids, self.offsets, self.styles, factors)

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @cached_property
    def lengths(self) -> np.ndarray:
        """Characters per name, (N,) int64 (computed once)."""
        return np.diff(self.offsets)

    @property
    def tokens(self) -> int:
        """Predicted symbols: characters plus one end token per name."""
        return int(self.ids.size + len(self))

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> "Encoded":
        lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        ids = np.concatenate([np.asarray(a, dtype=np.int32) for a in arrays]) if len(arrays) else np.zeros(0, np.int32)
        return cls(ids.astype(np.int32, copy=False), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def take(self, idx: np.ndarray) -> "Encoded":
        """The names at positions ``idx``, in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        starts, lengths = self.offsets[idx], self.lengths[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
        return Encoded(self.ids[np.repeat(starts, lengths) + within], offsets,
                       None if self.styles is None else self.styles[idx],
                       None if self.factors is None else self.factors[idx])


def _characters(names: Iterable[str]) -> set[str]:
    """The distinct characters of ``names``, in one vectorised pass (no set per name)."""
    out: set[str] = set()
    it = iter(names)
    while chunk := list(itertools.islice(it, 1 << 18)):  # a chunk at a time: no copy of the whole corpus
        out.update("".join(chunk))
    return out


class Vocab:
    """An immutable character table. ``chars[0]`` is always :data:`EOS`."""

    __slots__ = ("chars", "_index", "_codes", "_ids")

    def __init__(self, chars: Iterable[str]):
        chars = tuple(chars)
        if not chars or chars[0] != EOS:
            raise VocabError("a vocabulary must start with the end-of-name token '\\n'")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise VocabError("every vocabulary entry must be exactly one character")
        if len(set(chars)) != len(chars):
            raise VocabError("vocabulary characters must be unique")
        self.chars = chars
        self._index = {c: i for i, c in enumerate(chars)}
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        order = np.argsort(codes)
        self._codes, self._ids = codes[order], order.astype(np.int32)  # code point -> id lookup

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "Vocab":
        return cls(sorted({EOS, *_characters(names)}))

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """The notebook's vocabulary: ``sorted(set(text))`` (plus ``\\n`` if absent)."""
        return cls(sorted(set(text) | {EOS}))

    def extended(self, names: Iterable[str]) -> "Vocab":
        """This vocabulary with the new characters of ``names`` appended (sorted among themselves)."""
        new = _characters(names) - set(self.chars)
        return Vocab(self.chars + tuple(sorted(new)))

    @property
    def caseless(self) -> bool:
        """True when the alphabet has no upper-case letters: user text is then lowercased to match it."""
        return not any(c.isupper() for c in self.chars)

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"Vocab({self.describe()})"

    def __contains__(self, ch: str) -> bool:
        return ch != EOS and ch in self._index

    def index(self, ch: str) -> int:
        return self._index[ch]

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` a name cannot contain here, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index or c == EOS))

    def check(self, text: str, what: str = "text", hint: str = "") -> None:
        """Refuse text with characters outside the alphabet (``hint`` ends the message: what else to try)."""
        if EOS in text:
            raise VocabError(f"{what} {text!r} contains a line break; a name is one line of text")
        bad = self.unknown(text)
        if bad:
            shown = ", ".join(_show(c) for c in bad)
            raise VocabError(f"{what} {text!r} has characters the model never saw: {shown} "
                             f"(its alphabet: {self.alphabet()}){hint}")

    def encode(self, text: str, what: str = "name") -> np.ndarray:
        """Character ids of ``text`` (no end token), as int32. Unknown characters and line breaks raise."""
        if not isinstance(text, str):
            raise VocabError(f"a {what} must be text, got {type(text).__name__}")
        self.check(text, what)
        return np.fromiter((self._index[c] for c in text), dtype=np.int32, count=len(text))

    def encode_many(self, names: Sequence[str], what: str = "name", chunk: int = 1 << 18) -> Encoded:
        """All ``names`` as one :class:`Encoded`, vectorised; the first bad name raises as :meth:`encode`."""
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.empty(int(offsets[-1]), dtype=np.int32)
        for lo in range(0, len(names), chunk):  # a chunk at a time: no (characters,) int64 temporaries
            part = names[lo: lo + chunk]
            cps = np.frombuffer("".join(part).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
            pos = np.minimum(np.searchsorted(self._codes, cps), self._codes.size - 1)
            ok = (self._codes[pos] == cps) & (cps != ord(EOS))
            if not ok.all():
                first = int(np.searchsorted(np.cumsum(lengths[lo:]), np.flatnonzero(~ok)[0], side="right"))
                self.check(part[first], what)
            ids[offsets[lo]: offsets[lo + len(part)]] = self._ids[pos]
        return Encoded(ids, offsets)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; end tokens are dropped."""
        chars = self.chars
        return "".join(chars[i] for i in ids if i != 0)

    def alphabet(self, limit: int = 200) -> str:
        """The characters in plain words, with runs shortened: ``"a-z"``, ``"' - a-z"``.

        At most about ``limit`` characters of text (a CJK alphabet has thousands of
        symbols): longer ones end in ``"… (N in all)"``.
        """
        body = sorted(self.chars[1:])
        runs: list[str] = []
        i = 0
        while i < len(body):
            j = i
            while j + 1 < len(body) and ord(body[j + 1]) == ord(body[j]) + 1:
                j += 1
            runs.append(f"{body[i]}-{body[j]}" if j - i >= 2 else "".join(body[i : j + 1]))
            i = j + 1
        text = " ".join(r if r.strip() and r.isprintable() else repr(r) for r in runs)
        if len(text) > limit:
            cut = text.rfind(" ", 0, limit)
            text = text[: cut if cut > 0 else limit] + f" … ({len(body):,} in all)"
        return text

    def describe(self) -> str:
        """A short human description, e.g. ``"26 characters: a-z"``."""
        return f"{self.size - 1} characters: {self.alphabet()}"

    def to_dict(self) -> dict:
        return {"chars": list(self.chars)}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocab":
        chars = data.get("chars") if isinstance(data, dict) else None
        if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
            raise VocabError("vocabulary must be a list of characters")
        return cls(chars)
