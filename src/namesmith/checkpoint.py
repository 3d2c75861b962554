"""Checkpoints: one ``.npz`` file with the parameters and a JSON metadata entry.

Layout of the zip archive (every member is a plain ``.npy`` array)::

    __meta__          uint8 bytes of a UTF-8 JSON object (see below)
    param/<name>      model parameters, float32 or float64 (or the model's declared dtypes)
    optim/<slot>/<n>  optimizer state arrays (moments), same shapes as the parameters
    extra/<name>      other arrays: training-name hashes (for --novel), score quantiles

The JSON holds ``format``, ``version``, ``model`` (type and config), ``vocab``,
``train`` (step, resolved configuration, best validation NLL, ...), ``optimizer``
(type, step count, hyperparameters), ``rng`` (the seeds every random stream is
derived from), ``corpus`` (source, fingerprint, size) and ``metrics``.

Writing is atomic: a temporary file in the same directory, flushed and fsynced,
then ``os.replace``, so an existing checkpoint is never replaced by a partial
or broken one. Parameters that are not finite are refused before anything is
written. Loading never unpickles (``allow_pickle=False``) and validates member
names, sizes (a zip-bomb guard), the JSON, the model type and configuration,
every parameter's shape, dtype and finiteness; any failure is one
:class:`CheckpointError` line.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .errors import CheckpointError, NamesmithError
from .models import MODELS, Model
from .vocab import Vocab

FORMAT = "namesmith-checkpoint"
VERSION = 1
MAX_BYTES = 1 << 30  # refuse files (or decompressed contents) larger than 1 GiB
EXTRA_DTYPES = {"train_hashes": np.uint64, "train_nll_quantiles": np.float64}


@dataclass
class Checkpoint:
    model: Model
    vocab: Vocab
    meta: dict = field(default_factory=dict)
    optim: dict[str, np.ndarray] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.meta.get("train", {}).get("step", 0))

    @property
    def lowercase(self) -> bool | None:
        """Whether the training corpus was lowercased (user text is then lowercased too)."""
        return self.meta.get("corpus", {}).get("lowercase")

    def sampler(self, exclude=frozenset()):
        """A :class:`~namesmith.sample.Sampler` that knows this model's training names."""
        from .sample import Sampler

        return Sampler(self.model, self.vocab, train_hashes=self.extras.get("train_hashes"),
                       exclude=set(exclude), lowercase=self.lowercase)


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(fileobj)`` on a temp file next to ``path``, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (best effort; not all filesystems allow it)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save_checkpoint(
    path: str | Path,
    model: Model,
    vocab: Vocab,
    meta: dict | None = None,
    optim: dict[str, np.ndarray] | None = None,
    extras: dict[str, np.ndarray] | None = None,
) -> None:
    """Write a checkpoint atomically. Raises before writing if a parameter is not finite."""
    for name, p in model.params.items():
        if np.issubdtype(p.dtype, np.floating) and not np.isfinite(p).all():
            raise NamesmithError(f"refusing to save {path}: parameter {name} is not finite")
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "namesmith": __version__,
        **(meta or {}),
        "model": {"type": model.kind, "config": model.config},
        "vocab": vocab.to_dict(),
    }
    arrays = {"__meta__": np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8)}
    arrays.update({f"param/{k}": v for k, v in model.params.items()})
    arrays.update({f"param/{k}": v for k, v in model.extra_arrays().items()})
    arrays.update({f"optim/{k}": v for k, v in (optim or {}).items()})
    arrays.update({f"extra/{k}": v for k, v in (extras or {}).items()})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _fail(path, msg: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a usable namesmith checkpoint: {msg}")


def load_checkpoint(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Checkpoint:
    """Load and validate a checkpoint (see module docstring). Raises :class:`CheckpointError`."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file" if not p.exists() else f"{p}: not a file")
    size = p.stat().st_size
    if size > max_bytes:
        raise _fail(p, f"{size} bytes is over the {max_bytes}-byte limit")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            names = [i.filename for i in infos]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise _fail(p, f"it is not a valid .npz archive ({e})") from None
    if total > max_bytes:
        raise _fail(p, f"contents unpack to {total} bytes, over the {max_bytes}-byte limit")
    if len(set(names)) != len(names):
        raise _fail(p, "duplicate archive members")
    for n in names:
        if not n.endswith(".npy"):
            raise _fail(p, f"unexpected archive member {n!r}")
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:
        raise _fail(p, f"an array could not be read without pickle ({e})") from None
    except Exception as e:  # corrupt member data: zlib, EOF, header errors...
        raise _fail(p, f"an array is corrupt ({type(e).__name__}: {e})") from None
    return _validate(p, arrays)


def _validate(p: Path, arrays: dict[str, np.ndarray]) -> Checkpoint:
    raw = arrays.pop("__meta__", None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise _fail(p, "missing metadata")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(p, f"metadata is not JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(p, "it was not written by namesmith")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise _fail(p, f"format version {version!r} is not supported by namesmith {__version__}")
    model_doc = meta.get("model")
    if not isinstance(model_doc, dict) or not isinstance(model_doc.get("config"), dict):
        raise _fail(p, "model description missing")
    kind = model_doc.get("type")
    if kind not in MODELS:
        raise _fail(p, f"unknown model type {kind!r}")
    cls = MODELS[kind]
    try:
        vocab = Vocab.from_dict(meta.get("vocab"))
        config = cls.check_config(model_doc["config"])
    except NamesmithError as e:
        raise _fail(p, str(e)) from None
    if config["vocab_size"] != vocab.size:
        raise _fail(p, f"vocabulary has {vocab.size} symbols but the model expects {config['vocab_size']}")

    groups: dict[str, dict[str, np.ndarray]] = {"param": {}, "optim": {}, "extra": {}}
    for key, arr in arrays.items():
        group, sep, name = key.partition("/")
        if not sep or group not in groups or not name:
            raise _fail(p, f"unexpected array {key!r}")
        if arr.dtype.hasobject or arr.dtype.kind not in "fiu":
            raise _fail(p, f"array {key!r} has dtype {arr.dtype}, expected numbers")
        groups[group][name] = arr

    want_dtypes = cls.param_dtypes(config)
    for name, arr in groups["param"].items():
        want = want_dtypes.get(name)
        if want is not None and arr.dtype != want:
            raise _fail(p, f"parameter {name} has dtype {arr.dtype}, expected {np.dtype(want)}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise _fail(p, f"parameter {name} holds NaN or infinite values")
    try:
        model = cls.from_arrays(config, groups["param"])
    except NamesmithError as e:
        raise _fail(p, str(e)) from None
    for name, arr in groups["optim"].items():
        if arr.dtype.kind != "f" or not np.isfinite(arr).all():
            raise _fail(p, f"optimizer state {name} is not finite floating point")
    for name, arr in groups["extra"].items():
        want = EXTRA_DTYPES.get(name)
        if want is None or arr.dtype != want or arr.ndim != 1:
            raise _fail(p, f"unexpected extra array {name!r} ({arr.dtype}, shape {arr.shape})")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise _fail(p, f"extra array {name} is not finite")
    return Checkpoint(model, vocab, meta, groups["optim"], groups["extra"])
