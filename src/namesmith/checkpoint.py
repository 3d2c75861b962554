"""Checkpoints: one ``.npz`` file with the parameters and a JSON metadata entry.

Layout of the zip archive (every member is a plain ``.npy`` array)::

    __meta__          uint8 bytes of a UTF-8 JSON object (see below)
    param/<name>      model parameters, float32 or float64 (or the model's declared dtypes)
    optim/<slot>/<n>  optimizer state arrays (moments), same shapes as the parameters
    extra/<name>      other arrays: hashes of the user's names (for --novel), score quantiles

The JSON holds ``format``, ``version``, ``namesmith`` (the version that wrote it),
``model`` (type and config), ``vocab``, and the sections of :class:`~namesmith.meta.RunMeta`
(``run``, ``train``, ``optimizer``, ``rng``, ``corpus``, ``metrics``, ``styles``), whose
type hints are the schema: loading checks every field, so a hostile file cannot make a
later command crash.

Writing is atomic (:func:`~namesmith.files.atomic_write`): an existing
checkpoint is never replaced by a partial or broken one. Parameters that are
not finite are refused before anything is written. Loading never unpickles
(``allow_pickle=False``) and validates member names, sizes (a zip-bomb guard),
the JSON (size, depth, types), the model type and configuration, every
parameter's shape, dtype and finiteness; any failure is one
:class:`CheckpointError` line.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._version import __version__
from .corpus import display_name
from .errors import CheckpointError, NamesmithError
from .files import atomic_write
from .meta import RunMeta
from .models import MODELS, Model
from .vocab import Vocab

FORMAT = "namesmith-checkpoint"
VERSION = 1
MAX_BYTES = 1 << 30  # refuse files (or decompressed contents) larger than 1 GiB
MAX_META_BYTES = 16 << 20
EXTRA_DTYPES = {"known_hashes": np.uint64, "train_nll_quantiles": np.float64}
LEGACY_EXTRAS = {"train_hashes": "known_hashes"}  # files of namesmith 0.1


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63


# ----- the checkpoint ------------------------------------------------------------------------------------
@dataclass
class CheckpointData:
    """A loaded checkpoint: model, vocabulary, typed metadata, optimizer state and extra arrays."""

    model: Model
    vocab: Vocab
    meta: RunMeta = field(default_factory=RunMeta)
    optim: dict[str, np.ndarray] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return self.meta.train.step

    @property
    def lowercase(self) -> bool:
        """Whether the training corpus was lowercased (user text is then lowercased too)."""
        lc = self.meta.corpus.lowercase
        return self.vocab.caseless if lc is None else lc

    @property
    def val_nll(self) -> float | None:
        return self.meta.metrics.val_nll

    @property
    def corpus_name(self) -> str | None:
        """The training corpus as users should see it: a built-in name or a file name, never a full path."""
        c = self.meta.corpus
        if c.name:
            return c.name
        return None if c.source is None else display_name(c.source)

    @property
    def styles(self) -> list[str]:
        """The style names of a conditional model (style id = index); empty for a plain model."""
        return list(self.meta.styles.names) if self.meta.styles else []

    @property
    def factors(self) -> dict[str, list[str]]:
        """The further factors a conditional network learned (``{"kind": ["given", "surname"], ...}``, value
        id = index); empty for a model without them."""
        return {k: list(v) for k, v in self.meta.styles.factors.items()} if self.meta.styles else {}

    @property
    def factor_combinations(self) -> dict[str, list[str]]:
        """Style -> the factor values its training names hold together (``"surname/female"``); see meta."""
        return {k: list(v) for k, v in self.meta.styles.combinations.items()} if self.meta.styles else {}

    @property
    def style_counts(self) -> dict[str, int]:
        """Training names per style."""
        return dict(zip(self.meta.styles.names, self.meta.styles.counts)) if self.meta.styles else {}

    @property
    def known_hashes(self) -> np.ndarray | None:
        return self.extras.get("known_hashes")

    @property
    def quantiles(self) -> np.ndarray | None:
        return self.extras.get("train_nll_quantiles")


def save_checkpoint(
    path: str | Path,
    model: Model,
    vocab: Vocab,
    meta: RunMeta | dict | None = None,
    optim: dict[str, np.ndarray] | None = None,
    extras: dict[str, np.ndarray] | None = None,
    compress: bool = True,
) -> Path:
    """Write a checkpoint atomically; refuses non-finite parameters and non-numeric arrays before writing.

    ``compress=False`` stores the arrays as they are: the checkpoints a run writes at every evaluation
    (float weights and optimizer moments shrink by about 7% compressed, and compressing them took 0.3 s
    of every evaluation of the default preset). Both kinds load the same way.
    """
    if not isinstance(model, Model) or not isinstance(vocab, Vocab):
        raise NamesmithError("save_checkpoint needs a namesmith model and its Vocab")
    if model.vocab_size != vocab.size:
        raise NamesmithError(f"the model has {model.vocab_size} symbols but the vocabulary {vocab.size}")
    meta = meta if isinstance(meta, RunMeta) else RunMeta.from_dict(meta or {})
    named = meta.styles.names if meta.styles else []
    if model.styles != len(named):
        raise NamesmithError(f"a model with {model.styles} styles is saved with their names "
                             f"(meta['styles'] = {{'names': [...], 'counts': [...]}}), got {len(named)}")
    for name, p in model.params.items():
        if np.issubdtype(p.dtype, np.floating) and not np.isfinite(p).all():
            raise NamesmithError(f"refusing to save {path}: parameter {name} is not finite")
    arrays = {f"param/{k}": v for k, v in model.params.items()}
    arrays.update({f"optim/{k}": v for k, v in (optim or {}).items()})
    arrays.update({f"extra/{k}": v for k, v in (extras or {}).items()})
    for key, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.hasobject or arr.dtype.kind not in "fiu":
            raise NamesmithError(f"refusing to save {path}: {key} is not a numeric array")
    doc = {"format": FORMAT, "version": VERSION, "namesmith": __version__, **meta.to_dict(),
           "model": {"type": model.kind, "config": model.config}, "vocab": vocab.to_dict()}
    try:
        raw = json.dumps(doc, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise NamesmithError(f"refusing to save {path}: the metadata is not plain JSON ({e})") from None
    arrays["__meta__"] = np.frombuffer(raw, dtype=np.uint8)
    savez = np.savez_compressed if compress else np.savez
    return atomic_write(path, lambda f: savez(f, **arrays))


def _fail(path, msg: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a usable namesmith checkpoint: {msg}")


def read_arrays(path: str | Path, max_bytes: int = MAX_BYTES) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, with the size, member and no-pickle checks."""
    p = Path(os.fspath(path))
    if not os.path.isfile(p):
        raise CheckpointError(f"{p}: no such checkpoint file" if not os.path.exists(p) else f"{p}: not a regular file")
    size = p.stat().st_size
    if size > max_bytes:
        raise _fail(p, f"{size} bytes is over the {max_bytes}-byte limit")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:  # NIE: a zip feature
        raise _fail(p, f"it is not a valid .npz archive ({e})") from None
    names = [i.filename for i in infos]
    if sum(i.file_size for i in infos) > max_bytes:
        raise _fail(p, f"contents unpack to more than the {max_bytes}-byte limit")
    if len(set(names)) != len(names):
        raise _fail(p, "duplicate archive members")
    bad = [n for n in names if not n.endswith(".npy")]
    if bad:
        raise _fail(p, f"unexpected archive member {bad[0]!r}")
    try:
        with np.load(p, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as e:
        raise _fail(p, f"an array could not be read without pickle ({e})") from None
    except Exception as e:  # corrupt member data: zlib, EOF, header errors...
        raise _fail(p, f"an array is corrupt ({type(e).__name__}: {e})") from None


def read_meta(path: str | Path) -> dict | None:
    """The validated metadata of a namesmith checkpoint, read without its arrays; None when ``path`` is not
    a readable namesmith checkpoint (what :mod:`namesmith.runfiles` asks before replacing a file)."""
    try:
        with zipfile.ZipFile(os.fspath(path)) as zf:
            info = zf.getinfo("__meta__.npy")
            if info.file_size > MAX_META_BYTES + 4096:
                return None
            with zf.open(info) as f:
                raw = np.lib.format.read_array(f, allow_pickle=False)
        return _parse_meta(raw)
    except (OSError, KeyError, ValueError, EOFError, NotImplementedError, zipfile.BadZipFile, NamesmithError):
        return None


def load_checkpoint(path: str | Path, *, max_bytes: int = MAX_BYTES) -> CheckpointData:
    """Load and validate a checkpoint (see module docstring). Raises :class:`CheckpointError`."""
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"a checkpoint is a file path, not {type(path).__name__}")
    arrays = read_arrays(path, max_bytes)
    try:
        return _validate(arrays)
    except NamesmithError as e:
        raise _fail(path, str(e)) from None


def _parse_meta(raw: np.ndarray | None) -> dict:
    """The JSON document of ``__meta__`` (format and version checked; its sections are :class:`RunMeta`'s)."""
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError("missing metadata")
    if raw.size > MAX_META_BYTES:
        raise CheckpointError(f"metadata of {raw.size} bytes is over the {MAX_META_BYTES}-byte limit")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"metadata is not JSON ({str(e)[:80]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError("it was not written by namesmith")
    version = meta.get("version")
    if not _count(version) or not 1 <= version <= VERSION:
        raise CheckpointError(f"format version {version!r} is not supported by namesmith {__version__}")
    return meta


def _validate(arrays: dict[str, np.ndarray]) -> CheckpointData:
    doc = _parse_meta(arrays.pop("__meta__", None))
    meta = RunMeta.from_dict(doc)
    model_doc = doc.get("model")
    if not isinstance(model_doc, dict) or not isinstance(model_doc.get("config"), dict):
        raise CheckpointError("model description missing")
    kind = model_doc.get("type")
    if not isinstance(kind, str) or kind not in MODELS:
        raise CheckpointError(f"unknown model type {kind!r}")
    cls = MODELS[kind]
    vocab = Vocab.from_dict(doc.get("vocab"))
    config = cls.check_config(model_doc["config"])
    if config["vocab_size"] != vocab.size:
        raise CheckpointError(f"vocabulary has {vocab.size} symbols but the model expects {config['vocab_size']}")

    groups: dict[str, dict[str, np.ndarray]] = {"param": {}, "optim": {}, "extra": {}}
    for key, arr in arrays.items():
        group, sep, name = key.partition("/")
        if not sep or group not in groups or not name:
            raise CheckpointError(f"unexpected array {key!r}")
        if arr.dtype.hasobject or arr.dtype.kind not in "fiu":
            raise CheckpointError(f"array {key!r} has dtype {arr.dtype}, expected numbers")
        groups[group][name] = arr

    want_dtypes = cls.param_dtypes(config)
    for name, arr in groups["param"].items():
        want = want_dtypes.get(name)
        if want is not None and arr.dtype != want:
            raise CheckpointError(f"parameter {name} has dtype {arr.dtype}, expected {np.dtype(want)}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CheckpointError(f"parameter {name} holds NaN or infinite values")
    model = cls.from_arrays(config, groups["param"])
    named = len(meta.styles.names) if meta.styles else 0
    if named != model.styles:
        raise CheckpointError(f"the model has {model.styles} styles but the file names {named}")
    for name, arr in groups["optim"].items():
        if arr.dtype.kind != "f" or not np.isfinite(arr).all():
            raise CheckpointError(f"optimizer state {name} is not finite floating point")
    extras = {LEGACY_EXTRAS.get(k, k): v for k, v in groups["extra"].items()}
    for name, arr in extras.items():
        want = EXTRA_DTYPES.get(name)
        if want is None or arr.dtype != want or arr.ndim != 1:
            raise CheckpointError(f"unexpected extra array {name!r} ({arr.dtype}, shape {arr.shape})")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CheckpointError(f"extra array {name} is not finite")
    q = extras.get("train_nll_quantiles")
    if q is not None and q.size > 1 and not np.all(np.diff(q) >= 0):  # percentiles interpolate in them
        raise CheckpointError("the score quantiles are not in ascending order")
    h = extras.get("known_hashes")
    if h is not None and h.size > 1 and not np.all(h[1:] > h[:-1]):  # in_hashes() relies on a sorted set
        raise CheckpointError("the name hashes are not a sorted set")
    return CheckpointData(model, vocab, meta, groups["optim"], extras)
