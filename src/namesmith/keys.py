"""A name per key: the same key, model and options give the same name, on every machine and in later versions.

A key (a user id, an NPC's id, any text) becomes the sampling seed::

    digest = model_digest(model, vocab, styles)        # 64 hex digits, what the model *is*
    seed   = BLAKE2b-64("namesmith-key\n" + digest + "\n" + key) as a little-endian integer, & (2**53 - 1)

``model_digest`` is BLAKE2b-256 over what decides the model's distributions and
nothing else: its family tree (each part's type and mixture weights), the
vocabulary, the style names, and every parameter array (name, dtype, shape and
bytes, in name order). So a re-saved copy of a model has the same digest, and a
retrained or fine-tuned model another. The seed then drives the sampler exactly
as ``--seed`` does: ``-n K`` gives K names (the first is the key's name), and every
option (prefix, lengths, style...) applies as usual. ``namesmith.js`` computes the
same seeds from the digest the export records (``model_digest``), so an exported
page names a key as Python does. ``tests/test_keys.py`` holds recorded key ->
name pairs of the shipped models.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .models.base import Model
from .rng import SEED_MASK
from .vocab import Vocab

KEY_PREFIX = "namesmith-key\n"


def _tree(config) -> object:
    """The parts of a model's configuration that decide a mixture: component types and weights, recursively."""
    if isinstance(config, dict):
        out = {k: config[k] for k in ("weights", "style_weights") if config.get(k) is not None}
        if config.get("components"):
            out["components"] = [{"type": c["type"], **_as_dict(_tree(c.get("config", {})))}
                                 for c in config["components"]]
        return out
    return {}


def _as_dict(x) -> dict:
    return x if isinstance(x, dict) else {}


def model_digest(model: Model, vocab: Vocab, styles) -> str:
    """What the model is, as 64 hex digits (see the module docstring)."""
    h = hashlib.blake2b(digest_size=32, person=b"namesmith-model")
    head = {"type": model.kind, "tree": _tree(model.config), "vocab": list(vocab.chars), "styles": list(styles)}
    h.update(json.dumps(head, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    for name in sorted(model.params):
        a = np.ascontiguousarray(model.params[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()


def key_seed(key: str, digest: str) -> int:
    """The sampling seed of ``key`` for the model with ``digest``."""
    raw = hashlib.blake2b((KEY_PREFIX + digest + "\n" + key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(raw, "little") & SEED_MASK
