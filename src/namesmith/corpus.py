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
import os
from dataclasses import dataclass
from typing import Sequence
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
    "given-names-sex": (
        "given-names-sex.tsv",
        "the given-names list labelled female/male by the majority of recorded births (public domain)",
    ),
    "given-names-era": (
        "given-names-era.tsv",
        "the given-names list labelled by the decade of each name's peak popularity, 1880s-2010s "
        "(public domain)",
    ),
    "world": (
        "world.tsv",
        "given names and surnames of 59 origins labelled by style, kind (given/surname) and sex, romanised; from "
        "gender-guesser's nam_dict (GNU FDL) and Faker's locales (MIT)",
    ),
    "world-native": (
        "world-native.tsv",
        "given names and surnames in their own scripts (日本語, русский, العربية, ... 20 styles), labelled by "
        "style, kind and sex, from Faker's locales (MIT)",
    ),
}
DEFAULT_CORPUS = "given-names"


STYLE_MAX_LEN = 64  # the longest style label
FEW_NAMES = 50  # a style with fewer names gets a warning


@dataclass(frozen=True)
class Corpus:
    """An immutable list of names plus where it came from, and for a labelled corpus each name's style.

    ``labels`` (same length as ``names``) holds the style of each name, or is None
    for a plain corpus. A name may appear several times under different styles.
    """

    names: tuple[str, ...]
    source: str = "<memory>"
    labels: tuple[str, ...] | None = None
    # further label columns of a labelled file with a header (name, style, kind, sex): (column, values) pairs,
    # each value "" where the file leaves it blank; read and kept, not yet used in training
    factors: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def factor(self, column: str) -> tuple[str, ...] | None:
        """The values of a further label column (``"kind"``, ``"sex"``), None when the corpus has none."""
        return dict(self.factors).get(column)

    @property
    def styles(self) -> list[str]:
        """The distinct styles, sorted (their index is the style id); empty for a plain corpus."""
        return sorted(set(self.labels)) if self.labels else []

    def style_counts(self) -> dict[str, int]:
        """Names per style, in style order."""
        counts = dict.fromkeys(self.styles, 0)
        for label in self.labels or ():
            counts[label] += 1
        return counts

    def style_ids(self, styles: list[str]) -> np.ndarray:
        """Each name's index in ``styles`` (N,) int32; a style missing from ``styles`` raises."""
        index = {s: i for i, s in enumerate(styles)}
        missing = sorted(set(self.labels or ()) - set(index))
        if missing:
            raise CorpusError(f"{display_name(self.source)}: unknown style {missing[0]!r}; "
                              f"the model knows {', '.join(styles)}")
        return np.fromiter((index[s] for s in self.labels or ()), dtype=np.int32, count=len(self.names))

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

    def subset(self, idx: np.ndarray, what: str) -> "Corpus":
        """The names (and labels) at positions ``idx``; ``what`` is appended to the source."""
        labels = None if self.labels is None else tuple(self.labels[i] for i in idx)
        factors = tuple((c, tuple(v[i] for i in idx)) for c, v in self.factors)
        return Corpus(tuple(self.names[i] for i in idx), f"{self.source} ({what})", labels, factors)

    def split(self, val_fraction: float, seed: int | np.random.SeedSequence,
              val_max: int | None = None) -> tuple["Corpus", "Corpus"]:
        """A seeded random split into (train, validation).

        The validation part has ``round(val_fraction * len)`` names, at most
        ``val_max``, at least one when the corpus has two or more names and
        ``val_fraction > 0``. The cap takes a prefix of the same permutation, so
        it changes nothing for corpora under it. A labelled corpus is split per
        style in proportion, and a name listed under several styles keeps all its
        lines on one side (so the validation size is approximate).
        """
        if not 0.0 <= val_fraction < 1.0:
            raise CorpusError(f"validation fraction must be in [0, 1), got {val_fraction}")
        n = len(self.names)
        n_val = int(round(val_fraction * n))
        if val_fraction > 0 and n >= 2:
            n_val = max(1, n_val)
        n_val = min(n_val, n - 1, n if val_max is None else val_max)
        order = np.random.default_rng(seed).permutation(n)
        if self.labels is not None:  # stratified: each style keeps its share of validation names
            val_idx = _stratified(np.asarray(self.style_ids(self.styles)), order, n_val, self.names)
        else:
            val_idx = np.sort(order[:n_val])
        keep = np.ones(n, dtype=bool)
        keep[val_idx] = False
        train_idx = np.flatnonzero(keep)
        return self.subset(train_idx, "train split"), self.subset(val_idx, "validation split")


def _stratified(style: np.ndarray, order: np.ndarray, n_val: int, names: Sequence[str]) -> np.ndarray:
    """``n_val`` validation indices spread over the styles in proportion (largest remainders), names taken
    in ``order``; a style of two or more names keeps at least one for training.

    A name listed under several styles moves with all its lines: it joins validation only when every one of
    its styles still has room there, so no validation name is one the model saw under another style.
    """
    counts = np.bincount(style)
    share = counts * n_val / max(len(style), 1)
    take = np.floor(share).astype(np.int64)
    extra = np.argsort(-(share - take), kind="stable")[: n_val - int(take.sum())]
    take[extra] += 1
    room = np.minimum(take, np.maximum(counts - 1, 0))  # (S,) validation places per style
    lines: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        lines.setdefault(name, []).append(i)
    room_left, val = room.tolist(), []
    for i in order.tolist():
        group = lines.pop(names[i], None)  # None: the name was decided at an earlier line
        if group is None:
            continue
        need = [int(style[j]) for j in group]
        if all(need.count(k) <= room_left[k] for k in set(need)):
            for k in need:
                room_left[k] -= 1
            val.extend(group)
    return np.sort(np.asarray(val, dtype=np.int64))


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


PIECE_CHARS = 1 << 22  # a corpus is parsed about 4 MB of text at a time: temporary memory stays bounded
SHARED = 1 << 16  # distinct names kept as one shared object: a list that repeats names stores each once


def _pieces(text: str):
    """``text`` in runs of whole lines of about ``PIECE_CHARS`` characters."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", min(start + PIECE_CHARS, n))
        end = n if end < 0 else end + 1
        yield text[start:end]
        start = end


def _check_items(items: list[str], source: str, line0: int, max_len: int) -> None:
    """Control characters and over-long items of one piece, with their line numbers in the file."""
    bad = {c for c in set("".join(items)) if is_control(c)}
    if bad:
        lineno, c = _first_line_with(items, bad)
        raise CorpusError(f"{source}: line {line0 + lineno}: control character {c!r} inside an item; "
                          "items must be plain text, one per line")
    if max(map(len, items), default=0) > max_len:
        i = next(i for i, item in enumerate(items) if len(item) > max_len)
        raise CorpusError(f"{source}: line {line0 + i + 1}: item is {len(items[i])} characters long, over the "
                          f"limit of {max_len} (raise it with --max-item-len, up to {LONGEST_NAME})")


def parse_names(
    text: str,
    source: str = "<memory>",
    *,
    lowercase: bool = True,
    max_len: int = MAX_ITEM_LEN,
) -> Corpus:
    """Parse the text of a corpus file into a :class:`Corpus` (see module docstring).

    Whole-text operations (normalisation, the set of characters, lengths) run at
    C speed on pieces of about 4 MB; a line number is searched for only when there
    is an error to report. Repeated names share one string object (the first
    ``SHARED`` distinct ones), so a long list of few distinct names stays small.
    """
    first = next((line for line in text.split("\n", 64) if line.strip()), "")
    if "\t" in first:  # a labelled corpus: name<TAB>style from the first line on
        return _parse_labelled(text, source, lowercase=lowercase, max_len=max_len)
    names: list[str] = []
    shared: dict[str, str] = {}
    line0 = 0
    for piece in _pieces(text):
        items = [line.strip() for line in normalize(piece, lowercase).split("\n")]
        if piece.endswith("\n"):
            items.pop()  # the empty text after the piece's last line break
        _check_items(items, source, line0, max_len)
        line0 += len(items)
        for item in filter(None, items):
            names.append(shared.setdefault(item, item) if len(shared) < SHARED else shared.get(item, item))
    if not names:
        raise CorpusError(f"{source}: the corpus is empty (no non-blank lines)")
    return Corpus(tuple(names), source)


def _check_style(style: str, where: str, what: str = "style") -> str:
    if not style:
        raise CorpusError(f"{where}: the style after the tab is empty; write name<TAB>style")
    if len(style) > STYLE_MAX_LEN or any(is_control(c) or c in "=," for c in style):
        raise CorpusError(f"{where}: {what} {style[:STYLE_MAX_LEN]!r} must be at most {STYLE_MAX_LEN} characters "
                          "of plain text without '=' or ',' (they separate the styles of a blend)")
    return style


def _header(line: str) -> list[str] | None:
    """The column names of a labelled file's header line (``name<TAB>style[<TAB>kind...]``), None for a data line."""
    cols = [c.strip() for c in line.split("\t")]
    if len(cols) < 2 or cols[0].casefold() != "name" or cols[1].casefold() != "style":
        return None
    return [c.casefold() for c in cols]


def _check_header(cols: list[str], source: str) -> None:
    bad = [c for c in cols[2:] if not c or len(c) > STYLE_MAX_LEN or any(is_control(ch) for ch in c)]
    if bad or len(set(cols)) != len(cols):
        raise CorpusError(f"{display_name(source)}:1: the header names each column once (name, style, then "
                          f"columns such as kind or sex), got {chr(9).join(cols)!r}")


def _check_value(value: str, where: str, column: str) -> str:
    """A further label column's value: blank (unknown) or a style-like label."""
    return _check_style(value, where, column) if value else value


def _parse_labelled(text: str, source: str, *, lowercase: bool, max_len: int) -> Corpus:
    """A labelled corpus: ``name<TAB>style`` per line (blank lines skipped), or a header line
    ``name<TAB>style<TAB>kind<TAB>sex...`` and that many columns on every line (further columns may be blank);
    errors name ``file:line``.

    The names are checked and normalised as one column at C speed and each distinct style once; only when
    something is wrong does the line-by-line reading run, to name the line (it is 20x slower)."""
    rows = [raw.split("\t") for raw in text.split("\n") if raw.strip()]
    header = _header("\t".join(rows[0])) if rows else None
    if header is not None:
        _check_header(header, source)
        rows = rows[1:]
    ncols = len(header) if header else 2
    if rows and all(len(r) == ncols for r in rows):
        items = [line.strip() for line in normalize("\n".join(r[0] for r in rows), lowercase).split("\n")]
        styles: dict[str, str] = {}
        try:
            if len(items) == len(rows) and all(items):
                _check_items(items, source, 0, max_len)
                for r in rows:
                    if r[1] not in styles:
                        styles[r[1]] = _check_style(normalize(r[1].strip(), False), source)
                shared: dict[str, str] = {}
                names = tuple(shared.setdefault(i, i) if len(shared) < SHARED else shared.get(i, i) for i in items)
                factors = []
                for c in range(2, ncols):
                    seen: dict[str, str] = {}
                    for r in rows:
                        if r[c] not in seen:
                            seen[r[c]] = _check_value(normalize(r[c].strip(), False), source, header[c])
                    factors.append((header[c], tuple(seen[r[c]] for r in rows)))
                return Corpus(names, source, tuple(styles[r[1]] for r in rows), tuple(factors))
        except CorpusError:
            pass  # the line-by-line reading below names the line
    return _parse_labelled_lines(text, source, lowercase=lowercase, max_len=max_len)


def _parse_labelled_lines(text: str, source: str, *, lowercase: bool, max_len: int) -> Corpus:
    """:func:`_parse_labelled` one line at a time: the reading whose errors name ``file:line``."""
    names, labels, header = [], [], None
    values: list[list[str]] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{display_name(source)}:{lineno}"
        parts = raw.split("\t")
        if header is None and not names and _header(raw) is not None:
            header = _header(raw)
            _check_header(header, source)
            values = [[] for _ in header[2:]]
            continue
        ncols = len(header) if header else 2
        if len(parts) != ncols:
            shown = (f"{'<TAB>'.join(header)} ({ncols - 1} tabs, as the header says)" if header
                     else "name<TAB>style (one tab)")
            raise CorpusError(f"{where}: expected {shown}, found {len(parts) - 1} tabs; "
                              "a labelled corpus has a style on every line")
        if not parts[0].strip():
            raise CorpusError(f"{where}: the name before the tab is empty")
        try:
            names.append(parse_names(parts[0], where, lowercase=lowercase, max_len=max_len).names[0])
        except CorpusError as e:
            raise CorpusError(str(e).replace(f"{where}: line 1: ", f"{where}: ")) from None
        labels.append(_check_style(normalize(parts[1].strip(), False), where))
        for column, name, value in zip(values, header[2:] if header else (), parts[2:]):
            column.append(_check_value(normalize(value.strip(), False), where, name))
    if not names:
        raise CorpusError(f"{source}: the corpus is empty (no non-blank lines)")
    factors = tuple((c, tuple(v)) for c, v in zip(header[2:], values)) if header else ()
    return Corpus(tuple(names), source, tuple(labels), factors)


def read_folder(path: str | Path, *, lowercase: bool = True, max_len: int = MAX_ITEM_LEN) -> Corpus:
    """A folder of ``STYLE.txt`` files, one name per line: a labelled corpus whose styles are the file stems."""
    files = sorted(p for p in Path(path).iterdir() if p.suffix == ".txt" and p.is_file())
    if not files:
        raise CorpusError(f"{path}: the folder holds no STYLE.txt files (one name per line, the style is "
                          "the file's name)")
    names: list[str] = []
    labels: list[str] = []
    total = 0
    for f in files:
        part = read_corpus(f, lowercase=lowercase, max_len=max_len)
        if part.labels is not None:
            raise CorpusError(f"{f}: a file in a folder corpus is one plain name per line (no tabs)")
        total += sum(map(len, part.names))
        if total > MAX_FILE_BYTES:
            raise CorpusError(f"{path}: the folder's names are over {MAX_FILE_BYTES >> 20} MiB in all")
        names += part.names
        labels += [_check_style(normalize(f.stem, False), str(f))] * len(part.names)
    return Corpus(tuple(names), str(path), tuple(labels))


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
    return isinstance(spec, str) and spec in BUILTIN_CORPORA and not os.path.exists(spec)


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
    if spec is not None and not str(spec):
        raise CorpusError("the corpus path is empty; name a file, a folder or a built-in corpus (namesmith corpora)")
    if not is_builtin(spec) and spec is not None and os.path.isdir(spec):
        return read_folder(spec, lowercase=lowercase, max_len=max_len)
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
            "styles": c.style_counts(),
            "description": description,
        })
    return rows


def name_hashes(names) -> np.ndarray:
    """Sorted unique 64-bit BLAKE2b hashes of names: a compact set for novelty checks.

    Checkpoints keep these instead of the names themselves. With 64 bits the
    chance that a new name collides with one of 100,000 training names is ~5e-15.
    """
    return np.unique(_hashes(names))


def _hashes(names, chunk: int = 1 << 18) -> np.ndarray:
    """The 64-bit BLAKE2b hash of each name, (N,) uint64, computed a chunk at a time (no N-long list of digests)."""
    blake = hashlib.blake2b
    out = np.empty(len(names), dtype=np.uint64)
    for lo in range(0, len(names), chunk):
        part = names[lo: lo + chunk]
        out[lo: lo + len(part)] = np.frombuffer(b"".join([blake(n.encode("utf-8"), digest_size=8).digest()
                                                          for n in part]), dtype="<u8")
    return out


def in_hashes(names, hashes: np.ndarray | None) -> np.ndarray:
    """Boolean array: which of ``names`` are in the hash set ``hashes`` (from :func:`name_hashes`)."""
    if hashes is None or hashes.size == 0 or not len(names):
        return np.zeros(len(names), dtype=bool)
    h = _hashes(names)
    pos = np.minimum(np.searchsorted(hashes, h), hashes.size - 1)
    return hashes[pos] == h
