"""Pretrained models shipped with namesmith: names right after ``pip install``, and bases to fine-tune.

Each is a checkpoint made by ``scripts/build_pretrained.py`` (the command and seed
are recorded in its metadata and in PRETRAINED.md). A model argument that is not an
existing file but one of these names (``namesmith sample world --style German``,
``--init-from given-names``) resolves here.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..checkpoint import CheckpointData, load_checkpoint
from ..errors import CheckpointError

# name -> (file, description); the corpora are namesmith's built-in ones (data/PROVENANCE.md)
PRETRAINED = {
    "given-names": ("given-names.npz", "US given names (SSA 1880-2017), default preset: LSTM-256 + 6-gram"),
    "world": ("world.npz", "first names and surnames of 35 languages and countries, with a style each"),
}


def pretrained_path(name: str) -> Path | None:
    """The file of shipped model ``name``, or None if there is no such model (or it is not installed)."""
    if not isinstance(name, str) or name not in PRETRAINED:
        return None
    path = Path(str(resources.files(__name__).joinpath(PRETRAINED[name][0])))
    return path if path.is_file() else None


def load_model_file(spec) -> CheckpointData:
    """A validated checkpoint from a file path, or a shipped model by name (``"world"``): what every command and
    ``namesmith.load`` open; an unknown name says which models are shipped."""
    if isinstance(spec, str) and not os.path.exists(spec) and spec in PRETRAINED:
        path = pretrained_path(spec)
        if path is None:
            raise CheckpointError(f"the pretrained model {spec!r} is not installed with this copy of namesmith")
        return load_checkpoint(path)
    try:
        return load_checkpoint(spec)
    except CheckpointError as e:
        if isinstance(spec, (str, os.PathLike)) and not os.path.exists(spec):
            raise CheckpointError(f"{e}; the shipped models are {', '.join(PRETRAINED)} (namesmith models)") from None
        raise
