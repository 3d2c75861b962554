"""Reading and validating corpora: one name (or word) per line, UTF-8.

A corpus file is read strictly and with a size bound (:func:`~namesmith.files.read_limited`):
it must be valid UTF-8 (a byte-order mark and CRLF line ends are accepted),
every item is stripped of surrounding whitespace, blank lines are dropped, and
text is normalised by :func:`~namesmith.text.normalize` (NFC, lowercased unless
``lowercase=False``). Anything else - a missing, empty or over-large file,
invalid UTF-8, control characters, an over-long item - raises
:class:`CorpusError` naming the line, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import CorpusError
from .files import read_limited
from .text import is_control, normalize

MAX_ITEM_LEN = 64  # default limit on one item's length (--max-item-len)
LONGEST_NAME = 1000  # the most any name may have anywhere: corpora, sampling, scoring
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

    @property
    def name(self) -> str:
        """The source without its folders: what a model shows as its training corpus."""
        return display_name(self.source)

    def fingerprint(self) -> str:
        """A short SHA-256 of the names in order: identifies the exact training data."""
        h = hashlib.sha256("\n".join(self.names).encode("utf-8"))
        return h.hexdigest()[:16]

    def split(self, val_fraction: float, seed: int | np.random.SeedSequence,
              val_max: int | None = None) -> tuple["Corpus", "Corpus"]:
        """A seeded random split into (train, validation).

        The validation part has ``round(val_fraction * len)`` names, at most
        ``val_max``, at least one when the corpus has two or more names and
        ``val_fraction > 0``. The cap takes a prefix of the same permutation, so
        it changes nothing for corpora under it.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise CorpusError(f"validation fraction must be in [0, 1), got {val_fraction}")
        n = len(self.names)
        n_val = int(round(val_fraction * n))
        if val_fraction > 0 and n >= 2:
            n_val = max(1, n_val)
        n_val = min(n_val, n - 1, n if val_max is None else val_max)
        order = np.random.default_rng(seed).permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        names = self.names
        return (
            Corpus(tuple(names[i] for i in train_idx), f"{self.source} (train split)"),
            Corpus(tuple(names[i] for i in val_idx), f"{self.source} (validation split)"),
        )


def display_name(source: str) -> str:
    """A corpus source as users see it: a built-in name as it is, a file by its name only (never its path)."""
    return source if source.startswith("builtin:") else Path(source).name


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


def read_text(path: str | Path, what: str = "corpus file") -> str:
    """The UTF-8 text of a file, read with the size bound."""
    return decode_utf8(read_limited(path, MAX_FILE_BYTES, what=what, error=CorpusError), str(path))


def _first_line_with(lines: list[str], bad: set[str]) -> tuple[int, str]:
    for lineno, line in enumerate(lines, start=1):
        for c in line:
            if c in bad:
                return lineno, c
    raise AssertionError("unreachable")  # pragma: no cover


def parse_names(
    text: str,
    source: str = "<memory>",
    *,
    lowercase: bool = True,
    max_len: int = MAX_ITEM_LEN,
) -> Corpus:
    """Parse the text of a corpus file into a :class:`Corpus` (see module docstring).

    Whole-text operations (normalisation, the set of characters, lengths) run at
    C speed; a line number is searched for only when there is an error to report.
    """
    items = [line.strip() for line in normalize(text, lowercase).split("\n")]
    bad = {c for c in set("".join(items)) if is_control(c)}
    if bad:
        lineno, c = _first_line_with(items, bad)
        raise CorpusError(f"{source}: line {lineno}: control character {c!r} inside an item; "
                          "items must be plain text, one per line")
    longest = max(map(len, items), default=0)
    if longest > max_len:
        lineno = next(i for i, item in enumerate(items, start=1) if len(item) > max_len)
        raise CorpusError(f"{source}: line {lineno}: item is {len(items[lineno - 1])} characters long, over the "
                          f"limit of {max_len} (raise it with --max-item-len, up to {LONGEST_NAME})")
    names = tuple(filter(None, items))
    if not names:
        raise CorpusError(f"{source}: the corpus is empty (no non-blank lines)")
    return Corpus(names, source)


def read_corpus(path: str | Path, *, lowercase: bool = True, max_len: int = MAX_ITEM_LEN) -> Corpus:
    """Read a corpus file from disk."""
    return parse_names(read_text(path), str(path), lowercase=lowercase, max_len=max_len)


def builtin_text(name: str) -> str:
    if name not in BUILTIN_CORPORA:
        raise CorpusError(f"no built-in corpus named {name!r}; see `namesmith corpora`")
    filename = BUILTIN_CORPORA[name][0]
    return resources.files("namesmith").joinpath("data", filename).read_text("utf-8")


def is_builtin(spec) -> bool:
    """True when ``spec`` names a built-in corpus and no file of that name exists."""
    return isinstance(spec, str) and spec in BUILTIN_CORPORA and not Path(spec).exists()


def load_text(spec: str | Path | None = None) -> tuple[str, str]:
    """``(text, source)`` of a built-in corpus or a file (default: the built-in default corpus).

    A path that exists wins over a built-in name, so a local file called
    ``given-names`` is still readable.
    """
    spec = DEFAULT_CORPUS if spec is None else spec
    if is_builtin(spec):
        return builtin_text(spec), f"builtin:{spec}"
    return read_text(spec), str(spec)


def load_corpus(spec: str | Path | None = None, *, lowercase: bool = True, max_len: int = MAX_ITEM_LEN) -> Corpus:
    """A corpus by built-in name or by path (default: the built-in default corpus); see :func:`load_text`."""
    if spec is not None and not isinstance(spec, (str, Path)):
        raise CorpusError(f"a corpus is a file path or a built-in corpus name, not {type(spec).__name__}")
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
    blake = hashlib.blake2b
    digests = b"".join([blake(n.encode("utf-8"), digest_size=8).digest() for n in names])
    return np.unique(np.frombuffer(digests, dtype="<u8")).astype(np.uint64)


def in_hashes(names, hashes: np.ndarray | None) -> np.ndarray:
    """Boolean array: which of ``names`` are in the hash set ``hashes`` (from :func:`name_hashes`)."""
    if hashes is None or hashes.size == 0 or not len(names):
        return np.zeros(len(names), dtype=bool)
    blake = hashlib.blake2b
    h = np.frombuffer(b"".join([blake(n.encode("utf-8"), digest_size=8).digest() for n in names]), dtype="<u8")
    pos = np.minimum(np.searchsorted(hashes, h), hashes.size - 1)
    return hashes[pos] == h
