"""The character vocabulary: sorted characters with the end-of-name token first.

The end-of-name token is the newline ``"\\n"`` as in the notebook, where
``sorted(set(text))`` puts it at index 0 because it sorts before every printable
character. namesmith keeps that convention for every model: index 0 is the end
token when it is a *target*, and the start symbol when it is an *input*.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .errors import VocabError

EOS = "\n"


def _show(ch: str) -> str:
    return repr(ch) if not ch.isprintable() or ch.isspace() else f"'{ch}'"


class Vocab:
    """An immutable, sorted character table. ``chars[0]`` is always :data:`EOS`."""

    __slots__ = ("chars", "_index")

    def __init__(self, chars: Iterable[str]):
        chars = tuple(chars)
        if not chars or chars[0] != EOS:
            raise VocabError("a vocabulary must start with the end-of-name token '\\n'")
        if any(len(c) != 1 for c in chars):
            raise VocabError("every vocabulary entry must be exactly one character")
        if list(chars) != sorted(set(chars)):
            raise VocabError("vocabulary characters must be unique and sorted")
        self.chars = chars
        self._index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "Vocab":
        seen = set(EOS)
        for name in names:
            seen.update(name)
        return cls(sorted(seen))

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """The notebook's vocabulary: ``sorted(set(text))`` (plus ``\\n`` if absent)."""
        return cls(sorted(set(text) | {EOS}))

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
        return ch in self._index

    def index(self, ch: str) -> int:
        return self._index[ch]

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` not in the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index or c == EOS))

    def check(self, text: str, what: str = "text") -> None:
        bad = self.unknown(text)
        if bad:
            shown = ", ".join(_show(c) for c in bad)
            raise VocabError(
                f"{what} {text!r} has characters the model never saw: {shown} "
                f"(the model knows {self.describe()})"
            )

    def encode(self, text: str, what: str = "name") -> np.ndarray:
        """Character ids of ``text`` (no end token), as int32. Unknown characters raise."""
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int32, count=len(text))
        except KeyError:
            self.check(text, what)
            raise  # pragma: no cover - check() always raises here

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; end tokens are dropped."""
        chars = self.chars
        return "".join(chars[i] for i in ids if i != 0)

    def ids_of(self, chars: Iterable[str], what: str = "characters") -> np.ndarray:
        chars = "".join(chars)
        self.check(chars, what)
        return np.array(sorted({self._index[c] for c in chars}), dtype=np.int64)

    def describe(self) -> str:
        """A short human description, e.g. ``"27 symbols: a-z and the end token"``."""
        body = self.chars[1:]
        runs: list[str] = []
        i = 0
        while i < len(body):
            j = i
            while j + 1 < len(body) and ord(body[j + 1]) == ord(body[j]) + 1:
                j += 1
            runs.append(f"{body[i]}-{body[j]}" if j - i >= 2 else "".join(body[i : j + 1]))
            i = j + 1
        shown = " ".join(r if r.strip() else repr(r) for r in runs)
        return f"{self.size} symbols: {shown} and the end token"

    def to_dict(self) -> dict:
        return {"chars": list(self.chars)}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocab":
        chars = data.get("chars") if isinstance(data, dict) else None
        if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
            raise VocabError("vocabulary must be a list of characters")
        return cls(chars)
