"""Pretrained models shipped with namesmith: names right after ``pip install``, and bases to fine-tune.

Each is a checkpoint made by ``scripts/build_pretrained.py`` (the command and seed
are recorded in its metadata and in PRETRAINED.md). A model argument that is not an
existing file but one of these names (``namesmith sample world --style German``,
``--init-from given-names``) resolves here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

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
