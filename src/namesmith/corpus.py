"""Reading and validating corpora: one name (or word) per line, UTF-8.

A corpus file is read strictly: it must be valid UTF-8 (a byte-order mark and
CRLF line ends are accepted), every item is stripped of surrounding whitespace,
blank lines are dropped, text is put in Unicode NFC form and lowercased unless
``lowercase=False``. Anything else - a missing or empty file, invalid UTF-8,
control characters, an over-long item - raises :class:`CorpusError` naming the
line, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import CorpusError

MAX_ITEM_LEN = 64
MAX_FILE_BYTES = 256 * 1024 * 1024

# name -> (file in namesmith/data, one-line description). Provenance: data/PROVENANCE.md
BUILTIN_CORPORA = {
    "given-names": (
        "given-names.txt",
        "US given names: every name the US Social Security Administration recorded "
        "for at least 100 babies, 1880-2017 (public domain)",
    ),
    "census-first": (
        "census-first.txt",
        "US Census 1990 first names, female and male (public domain)",
    ),
    "census-surnames": (
        "census-surnames.txt",
        "US Census 1990 surnames, the 20,000 most common (public domain)",
    ),
}
DEFAULT_CORPUS = "given-names"


@dataclass(frozen=True)
class Corpus:
    """An immutable list of names plus where it came from."""

    names: tuple[str, ...]
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    @property
    def chars(self) -> int:
        """Number of characters, not counting end tokens."""
        return sum(map(len, self.names))

    @property
    def tokens(self) -> int:
        """Number of predicted symbols: characters plus one end token per name."""
        return self.chars + len(self.names)

    def fingerprint(self) -> str:
        """A short SHA-256 of the names in order: identifies the exact training data."""
        h = hashlib.sha256("\n".join(self.names).encode("utf-8"))
        return h.hexdigest()[:16]

    def split(self, val_fraction: float, seed: int | np.random.SeedSequence) -> tuple["Corpus", "Corpus"]:
        """A seeded random split into (train, validation).

        The validation part has ``round(val_fraction * len)`` names, at least one
        when the corpus has two or more names and ``val_fraction > 0``.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise CorpusError(f"validation fraction must be in [0, 1), got {val_fraction}")
        n = len(self.names)
        n_val = int(round(val_fraction * n))
        if val_fraction > 0 and n >= 2:
            n_val = max(1, n_val)
        n_val = min(n_val, n - 1)
        order = np.random.default_rng(seed).permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        names = self.names
        return (
            Corpus(tuple(names[i] for i in train_idx), f"{self.source} (train split)"),
            Corpus(tuple(names[i] for i in val_idx), f"{self.source} (validation split)"),
        )


def decode_utf8(data: bytes, source: str) -> str:
    """Strict UTF-8 decoding; an error names the line and byte. A leading BOM is dropped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CorpusError(
            f"{source}: line {line}, byte {col}: invalid UTF-8 (0x{data[e.start]:02x}); "
            "save the file as UTF-8"
        ) from None


def read_bytes(path: str | Path) -> bytes:
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"{p}: no such file")
    if p.is_dir():
        raise CorpusError(f"{p}: is a directory, expected a text file with one name per line")
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CorpusError(f"{p}: {size} bytes is larger than the {MAX_FILE_BYTES}-byte limit")
        return p.read_bytes()
    except OSError as e:
        raise CorpusError(f"{p}: cannot read: {e.strerror or e}") from None


def _bad_char(ch: str) -> bool:
    # Cc: C0/C1 control characters (tab included); Zl/Zp: Unicode line/paragraph separators.
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def parse_names(
    text: str,
    source: str = "<memory>",
    *,
    lowercase: bool = True,
    max_len: int = MAX_ITEM_LEN,
) -> Corpus:
    """Parse the text of a corpus file into a :class:`Corpus` (see module docstring)."""
    names = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        item = raw.strip()
        if not item:
            continue
        item = unicodedata.normalize("NFC", item)
        if lowercase:
            item = unicodedata.normalize("NFC", item.lower())
        bad = [c for c in item if _bad_char(c)]
        if bad:
            raise CorpusError(
                f"{source}: line {lineno}: control character {bad[0]!r} inside an item; "
                "items must be plain text, one per line"
            )
        if len(item) > max_len:
            raise CorpusError(
                f"{source}: line {lineno}: item is {len(item)} characters long, over the "
                f"limit of {max_len} (raise it with --max-item-len)"
            )
        names.append(item)
    if not names:
        raise CorpusError(f"{source}: the corpus is empty (no non-blank lines)")
    return Corpus(tuple(names), source)


def read_corpus(path: str | Path, *, lowercase: bool = True, max_len: int = MAX_ITEM_LEN) -> Corpus:
    """Read a corpus file from disk."""
    source = str(path)
    return parse_names(decode_utf8(read_bytes(path), source), source, lowercase=lowercase, max_len=max_len)


def builtin_text(name: str) -> str:
    if name not in BUILTIN_CORPORA:
        raise CorpusError(f"no built-in corpus named {name!r}; see `namesmith corpora`")
    filename = BUILTIN_CORPORA[name][0]
    return resources.files("namesmith").joinpath("data", filename).read_text("utf-8")


def load_text(spec: str | Path | None = None) -> tuple[str, str]:
    """``(text, source)`` of a built-in corpus or a file (default: the built-in default corpus).

    A path that exists wins over a built-in name, so a local file called
    ``given-names`` is still readable.
    """
    spec = DEFAULT_CORPUS if spec is None else spec
    if isinstance(spec, str) and spec in BUILTIN_CORPORA and not Path(spec).exists():
        return builtin_text(spec), f"builtin:{spec}"
    return decode_utf8(read_bytes(spec), str(spec)), str(spec)


def load_corpus(spec: str | Path | None = None, *, lowercase: bool = True, max_len: int = MAX_ITEM_LEN) -> Corpus:
    """A corpus by built-in name or by path (default: the built-in default corpus); see :func:`load_text`."""
    text, source = load_text(spec)
    return parse_names(text, source, lowercase=lowercase, max_len=max_len)


def builtin_corpora() -> list[dict]:
    """Name, size and description of every built-in corpus."""
    rows = []
    for name, (_, description) in BUILTIN_CORPORA.items():
        c = parse_names(builtin_text(name), name, lowercase=True)
        rows.append({
            "name": name,
            "names": len(c),
            "chars": c.chars,
            "default": name == DEFAULT_CORPUS,
            "description": description,
        })
    return rows


def name_hashes(names) -> np.ndarray:
    """Sorted unique 64-bit BLAKE2b hashes of names: a compact set for novelty checks.

    Checkpoints keep these instead of the names themselves. With 64 bits the
    chance that a new name collides with one of 100,000 training names is ~5e-15.
    """
    digests = b"".join([hashlib.blake2b(n.encode("utf-8"), digest_size=8).digest() for n in names])
    return np.unique(np.frombuffer(digests, dtype="<u8")).astype(np.uint64)


def in_hashes(names, hashes: np.ndarray) -> np.ndarray:
    """Boolean array: which of ``names`` are in the hash set ``hashes`` (from :func:`name_hashes`)."""
    if hashes is None or hashes.size == 0:
        return np.zeros(len(names), dtype=bool)
    blake = hashlib.blake2b
    h = np.frombuffer(b"".join([blake(n.encode("utf-8"), digest_size=8).digest() for n in names]), dtype="<u8")
    pos = np.minimum(np.searchsorted(hashes, h), hashes.size - 1)
    return hashes[pos] == h
