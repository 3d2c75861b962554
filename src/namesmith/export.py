"""A model outside Python: the portable JSON document, the static web page, the ONNX step graph.

The document (``namesmith export MODEL --json FILE``; every field in ``docs/export-format.md``)
holds the vocabulary, the styles, the sampling options as declared
(:class:`~namesmith.sample.SampleOptions`) and the model as a tree of nodes, one
per part the Python model is made of::

    {"type": "lstm" | "gru" | "rnn", "layers", "hidden", "embed", "styles", "arrays": {...}}
    {"type": "ngram", "order", "arrays": {...}}           Kneser-Ney tables, keyed as a trie
    {"type": "ngram-styled", "pooled": node, "parts": [node], "weights": [lambda_s]}
    {"type": "mixture", "components": [node], "weights": [...], "style_weights": [[...]] | null}

Arrays are ``{"dtype", "shape", "data"}`` with ``data`` the little-endian bytes in base64,
row-major. The JavaScript module (``web/static/namesmith.js``) is the reference
implementation of the document; the web export is that module, the serve page
(``app.js``, unchanged: it talks to the module instead of a server) and the document
wrapped as a script (``model.js``, so that the page works from ``file://``, where
browsers refuse ``fetch`` and module files).

An n-gram's tables are re-keyed for the export (the checkpoint's keys pack a whole
context into one integer, too large for JavaScript's numbers at high orders): a context
of order ``k`` (its ``k-1`` symbols) has the key ``row * (V+1) + (s + 1)``, where ``row``
is the row of its context without the oldest symbol ``s`` in order ``k-1``'s table, so a
history is looked up one symbol at a time, newest first, with keys below ``2**53``.
"""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ._version import __version__
from .api import Checkpoint
from .errors import ConfigError, NamesmithError
from .files import atomic_write, output_target, refuse_inputs
from .models import Model
from .models.conditional import collapsed
from .models.mixture import Mixture
from .models.ngram import NGram
from .models.recurrent import RecurrentLM
from .models.styled_ngram import StyledNGram
from .offensive import tables as offensive_tables
from .options import schema
from .sample import SampleOptions
from .text import PARTICLES

FORMAT, VERSION = "namesmith-model", 1
# the sampling options only the Python sampler computes (namesmith.js refuses them with the reason; the exported
# page has no control for them): each needs what an export does not hold
PYTHON_ONLY = {
    "best": "the most probable names need the exact best-first search",
    "like": "names close to liked ones need the styles' posterior and the ranking (namesmith similar)",
    "no_words": "it needs word lists the export does not hold",
    "no_real": "it needs corpora the export does not hold",
    "full": "full names pair a given name and a surname by the kind factor, which the export folds at 'any'",
    "kind": "the export holds the network with its further factors at 'any' (the style alone is exported)",
    "sex": "the export holds the network with its further factors at 'any' (the style alone is exported)",
}
JS_GLOBAL = "NAMESMITH_MODEL"  # model.js: "globalThis.NAMESMITH_MODEL = " + the document + ";"
WEB_FILES = ("index.html", "namesmith.js", "app.js", "style.css", "model.js")
EXPORT_MARK = ".namesmith-export"  # a web export's folder holds this file, so it may be exported into again


class ExportError(NamesmithError):
    """A model or a place the export cannot use (exit code 2)."""


# ----- arrays ---------------------------------------------------------------------------------
def array(a: np.ndarray, dtype: str | None = None) -> dict:
    """An array as the document stores it: dtype, shape and its little-endian bytes in base64."""
    a = np.ascontiguousarray(a, dtype=np.dtype(dtype or a.dtype.name).newbyteorder("<"))
    return {"dtype": a.dtype.name, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def read_array(d: dict) -> np.ndarray:
    """The array of :func:`array` (the tests read the document back with it)."""
    return np.frombuffer(base64.b64decode(d["data"]), dtype=np.dtype(d["dtype"]).newbyteorder("<")).reshape(
        d["shape"])


def _small_uint(a: np.ndarray) -> str:
    top = int(a.max()) if a.size else 0
    return "uint8" if top < 1 << 8 else "uint16" if top < 1 << 16 else "uint32" if top < 1 << 32 else "float64"


# ----- nodes ----------------------------------------------------------------------------------
def _recurrent(model: RecurrentLM) -> dict:
    model = collapsed(model)  # further factors (kind, sex) at "any": the export controls the style alone
    cfg = model.config
    return {"type": model.kind, "layers": cfg["layers"], "hidden": cfg["hidden"], "embed": cfg["embed"],
            "styles": cfg["styles"], "arrays": {k: array(v, "float32") for k, v in model.params.items()}}


def _ngram_tables(model: NGram, k: int, rows_below: np.ndarray | None) -> tuple[dict, np.ndarray]:
    """Order ``k``'s tables re-keyed as a trie (see the module docstring), and each checkpoint context's new
    row (-1: unreachable, its shorter context was never seen, as Python's lookup never reaches it either)."""
    V, p = model.vocab_size, model.params
    ctx = p[f"ctx{k}"]
    if k == 1:
        key = np.zeros(ctx.size, dtype=np.int64)
    else:
        scale = (V + 1) ** (k - 2)
        shorter, oldest = ctx % scale, ctx // scale  # the context without its oldest symbol; that symbol + 1
        below = p[f"ctx{k - 1}"]
        at = np.minimum(np.searchsorted(below, shorter), below.size - 1)
        parent = np.where(below[at] == shorter, rows_below[at], -1)
        key = np.where(parent >= 0, parent * (V + 1) + oldest, -1)
    order = np.argsort(key, kind="stable")
    order = order[key[order] >= 0]
    new_row = np.full(ctx.size, -1, dtype=np.int64)
    new_row[order] = np.arange(order.size)
    first, count = model._first[k][:-1][order], model._count[k][: ctx.size][order]
    idx = np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))  # the runs, reordered
    tables = {"key": array(key[order], _small_uint(key[order])), "bow": array(p[f"bow{k}"][order], "float32"),
              "count": array(count, _small_uint(count)),
              "symbol": array(model._symbol[k][idx], _small_uint(model._symbol[k][idx])),
              "logp": array(p[f"logp{k}"][idx], "float32")}
    return tables, new_row


def _ngram(model: NGram) -> dict:
    orders, rows = [], None
    for k in range(1, model.order + 1):
        tables, rows = _ngram_tables(model, k, rows)
        orders.append(tables)
    return {"type": "ngram", "order": model.order, "orders": orders}


def _styled_ngram(model: StyledNGram) -> dict:
    return {"type": "ngram-styled", "pooled": _ngram(model.pooled), "parts": [_ngram(p) for p in model.parts],
            "weights": list(model.config["weights"])}


def _mixture(model: Mixture) -> dict:
    return {"type": "mixture", "components": [node(p) for p in model.parts],
            "weights": [float(w) for w in np.exp(model._logw)], "style_weights": model.config["style_weights"]}


EXPORTERS: dict[str, Callable[[Model], dict]] = {
    "rnn": _recurrent, "gru": _recurrent, "lstm": _recurrent, "ngram": _ngram, "ngram-styled": _styled_ngram,
    "mixture": _mixture,
}


def node(model: Model) -> dict:
    """The document's node for one model (a registry of exporters, one per family)."""
    export = EXPORTERS.get(model.kind)
    if export is None:
        raise ExportError(f"a {model.kind} model cannot be exported yet; export supports "
                          f"{', '.join(sorted(set(EXPORTERS) - {'ngram-styled'}))} and their mixtures")
    return export(model)


# ----- the document ---------------------------------------------------------------------------
def document(ck: Checkpoint, include_names: bool = False, names: list[str] | None = None) -> dict:
    """The whole portable document of a checkpoint (see ``docs/export-format.md``)."""
    if not isinstance(ck, Checkpoint):
        raise ConfigError(f"export needs a namesmith Checkpoint, got {type(ck).__name__}")
    if include_names and not names:
        raise ConfigError("include_names needs the training names (the checkpoint keeps only their hashes)")
    return assemble(ck.model, list(ck.vocab.chars), lowercase=bool(ck.lowercase), styles=list(ck.styles),
                    style_counts=[int(ck.style_counts.get(s, 0)) for s in ck.styles],
                    alphabet=ck.meta.corpus.alphabet, known_hashes=ck.known_hashes,
                    known_names=sorted(set(names)) if include_names else None,
                    quantiles=ck.quantiles if ck.ranks else None,
                    info=ck.info(), model_digest=ck.digest)


def assemble(model: Model, vocab: list[str], *, lowercase: bool = True, styles: list[str] = (),
             style_counts: list[int] | None = None, alphabet: str | None = None,
             known_hashes: np.ndarray | None = None, known_names: list[str] | None = None,
             quantiles: np.ndarray | None = None, info: dict | None = None, model_digest: str | None = None) -> dict:
    """The document of a model and what the sampler needs beside it (every field: docs/export-format.md)."""
    tree = node(model)
    return {
        "format": FORMAT, "version": VERSION, "namesmith": __version__, "info": info or {},
        "model_digest": model_digest,
        "vocab": vocab, "lowercase": lowercase, "styles": list(styles),
        "style_counts": list(style_counts) if style_counts is not None else [0] * len(styles),
        "alphabet": alphabet,
        "known_hashes": None if known_hashes is None else array(known_hashes, "uint64"),
        "known_names": known_names,
        "quantiles": None if quantiles is None else [float(q) for q in quantiles],
        "options": schema(SampleOptions, "api"), "python_only": PYTHON_ONLY, "particles": sorted(PARTICLES),
        "page_options": [o for o in schema(SampleOptions, "page") if o["name"] not in PYTHON_ONLY],
        "offensive": offensive_tables(), "model": tree,
    }


def to_json(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ----- writing ----------------------------------------------------------------------------------
def static_file(name: str) -> str:
    return resources.files("namesmith.web").joinpath("static", name).read_text("utf-8")


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


JSON_START = b'{"format":"namesmith-model"'  # how every document begins (to_json keeps the key order)


def export_target(out: str | Path, sources: Sequence[str | Path], kind: str, ours: Callable[[bytes], bool],
                  example: str) -> Path:
    """The file an export writes: new, or an earlier export of the same ``kind`` (``ours`` of its first bytes
    says so); never an input, another model, nor any other file."""
    target = output_target(out, what="export")
    refuse_inputs([target], [("model", s) for s in sources])
    if target.exists():
        with open(target, "rb") as f:
            head = f.read(64)
        if not ours(head):
            raise ExportError(f"{out} exists and is not a namesmith {kind} export; an export replaces only an "
                              f"earlier export of its kind: choose another file name (e.g. {example})")
    return target


def write_json(ck: Checkpoint, out: str | Path, sources: Sequence[str | Path] = (), **kw) -> Path:
    """``--json FILE``: the document alone, written atomically; never over an input or a file it did not write
    (``sources``: the files the model was read from)."""
    target = export_target(out, sources, "JSON", lambda head: head.startswith(JSON_START), "model.json")
    _write(target, to_json(document(ck, **kw)))
    return target


def page_html(title: str) -> str:
    """The serve page's index.html made static: relative files, the module inline (see the module docstring)."""
    html = _swap(static_file("index.html"), "/static/", "")
    html = _swap(html, "<title>namesmith — forge new names</title>", f"<title>{_escape(title)} — namesmith</title>")
    html = _swap(html, "Served locally by namesmith. Nothing leaves this machine.",
                 "Exported by namesmith: this page runs the model in your browser, offline.")
    module = static_file("namesmith.js") + "\n" + static_file("export-page.js")
    scripts = ('<script src="model.js"></script>\n<script type="module">\n' + module.replace("</script", "<\\/script")
               + "\n</script>\n")
    return _swap(html, '<script src="app.js"></script>', scripts + '<script src="app.js"></script>')


def _swap(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; a page that lacks ``old`` is a packaging defect, never a silent no-op."""
    if old not in text:
        raise NamesmithError(f"the packaged index.html lacks {old!r}; the page cannot be exported "
                             "(reinstall namesmith)")
    return text.replace(old, new)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_web(ck: Checkpoint, out: str | Path, sources: Sequence[str | Path] = (), title: str | None = None,
              **kw) -> Path:
    """``--web DIR``: the static site. Only into a new or empty folder, or over a previous export."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} exists and is not a folder; --web writes a folder")
    if folder.is_dir():
        others = sorted(p.name for p in folder.iterdir() if p.name not in (*WEB_FILES, EXPORT_MARK))
        if others and not (folder / EXPORT_MARK).is_file():
            raise ExportError(f"{folder} is not empty and not a namesmith export ({others[0]} ...); "
                              "choose a new folder")
        if others:
            raise ExportError(f"{folder} holds files a namesmith export does not write ({others[0]}); "
                              "move them or choose a new folder")
        links = sorted(n for n in (*WEB_FILES, EXPORT_MARK) if (folder / n).is_symlink())
        if links:
            raise ExportError(f"{folder / links[0]} is a symbolic link; an export writes only its own files")
    refuse_inputs([folder / n for n in WEB_FILES], [("model", s) for s in sources])
    doc = to_json(document(ck, **kw))
    folder.mkdir(parents=True, exist_ok=True)
    name = title or ck.corpus_name or "namesmith model"
    files = {"model.js": f"globalThis.{JS_GLOBAL} = {doc};\n", "namesmith.js": static_file("namesmith.js"),
             "app.js": static_file("app.js"), "style.css": static_file("style.css"), "index.html": page_html(name),
             EXPORT_MARK: f"namesmith {__version__} export\n"}
    for fname, text in files.items():
        _write(folder / fname, text)
    return folder


def check_title(title: str | None) -> str | None:
    if title is not None and (not title.strip() or len(title) > 80 or re.search(r"[\x00-\x1f]", title)):
        raise ConfigError("the page title must be 1 to 80 printable characters")
    return title
