"""Shared fixtures. Tests that need the reference data in ../shared skip with a clear reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from namesmith.batch import make_batch
from namesmith.models import MODELS
from namesmith.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAMESMITH_SHARED", ROOT.parent / "shared"))
KANTROWITZ = SHARED / "data" / "names-kantrowitz" / "names.txt"
SSA = SHARED / "data" / "names-ssa2018"


def pytest_configure(config):
    """The suite's subprocesses (hundreds of ``namesmith`` commands) read namesmith's bytecode compiled once:
    where PYTHONDONTWRITEBYTECODE is set (as on the CI machine) each of them compiled the package's modules
    again, about 0.25 s a command. The bytecode goes where Python puts it (``__pycache__``, ignored by git)."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        import compileall

        import namesmith

        compileall.compile_dir(Path(namesmith.__file__).parent, quiet=1)


def need_shared(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (set NAMESMITH_SHARED to the shared/ folder)")


TINY_NAMES = ["anna", "bob", "eve", "otto", "ada", "abba", "emma", "ben", "noah", "liam"]


@pytest.fixture
def tiny_vocab() -> Vocab:
    return Vocab.from_names(TINY_NAMES)


@pytest.fixture
def padded_batch(tiny_vocab):
    """A batch with names of different lengths (so padding is exercised), one of them empty."""
    names = ["anna", "bob", "", "emma", "e"]
    return make_batch([tiny_vocab.encode(n) for n in names], dtype=np.float64, norm="tokens")


# small configurations of every registered trainable model, covering every option
RECURRENT_EXAMPLES = [
    ("onehot", {"hidden": 5}),
    ("stacked-embed-h0", {"hidden": 4, "layers": 2, "embed": 3, "learn_h0": True}),
    ("dropout", {"hidden": 4, "layers": 2, "dropout": 0.3}),
    ("styled", {"hidden": 4, "embed": 3, "styles": 2}),
    ("variational-weight-drop", {"hidden": 4, "layers": 2, "dropout": 0.3, "variational": True, "weight_drop": 0.4}),
]
TRAINABLE_EXAMPLES = {
    "rnn": RECURRENT_EXAMPLES, "gru": RECURRENT_EXAMPLES, "lstm": RECURRENT_EXAMPLES,
    # block 3 < the batch's 5 positions: the sliding window and the shared last position embedding
    "transformer": [("two-layers", {"embed": 4, "heads": 2, "layers": 2, "hidden": 6, "block": 8}),
                    ("window-tied", {"embed": 4, "heads": 2, "hidden": 5, "block": 3, "tie": True}),
                    ("dropout", {"embed": 4, "heads": 1, "hidden": 5, "block": 3, "dropout": 0.3}),
                    ("styled", {"embed": 4, "heads": 2, "hidden": 3, "block": 4, "styles": 2})],
    "mlp": [("window", {"embed": 3, "hidden": 5, "block": 3}),
            ("two-layers-dropout", {"embed": 2, "hidden": 4, "layers": 2, "block": 2, "dropout": 0.3}),
            ("styled", {"embed": 2, "hidden": 3, "block": 2, "styles": 2})],
}
# conditional examples of every trainable model (test_styles)
STYLED_EXAMPLES = {
    **{k: [("onehot", {"hidden": 4, "styles": 3}),
           ("embed-stacked", {"hidden": 3, "embed": 2, "layers": 2, "styles": 2})] for k in ("rnn", "gru", "lstm")},
    "transformer": [("two-layers", {"embed": 4, "heads": 2, "layers": 2, "hidden": 3, "block": 4, "styles": 3})],
    "mlp": [("two-layers", {"embed": 2, "hidden": 3, "layers": 2, "block": 3, "styles": 3})],
}


def model_configs():
    out = []
    for kind, cls in MODELS.items():
        if cls.trainable:
            out += [pytest.param(kind, cfg, id=f"{kind}-{name}") for name, cfg in TRAINABLE_EXAMPLES[kind]]
    return out


def _fit_ngram(vocab, rng, order=3):
    from namesmith.models.ngram import NGram

    return NGram.fit({"vocab_size": vocab.size, "order": order}, vocab.encode_many(TINY_NAMES))


def _mixture(vocab, rng):
    from namesmith.models.mixture import Mixture

    neural = perturbed(MODELS["gru"].create({"vocab_size": vocab.size, "hidden": 6, "dtype": "float64"}, rng), rng)
    return Mixture.of([neural, _fit_ngram(vocab, rng, 2)], [0.7, 0.3])


def _styled_ngram(vocab, rng):
    """A styled n-gram (per-style KN + pooled) over TINY_NAMES in two styles, weights fitted on held-out names."""
    from namesmith.models.ngram import NGram

    enc = vocab.encode_many(TINY_NAMES).with_styles(np.arange(len(TINY_NAMES)) % 2)
    val = vocab.encode_many(["anna", "emma", "bob"]).with_styles([0, 1, 1])
    return NGram.fit({"vocab_size": vocab.size, "order": 3, "styles": 2}, enc, val)


# how to build an example of each model that is not trained by gradient descent
FITTED_EXAMPLES = {"ngram": _fit_ngram, "mixture": _mixture, "ngram-styled": _styled_ngram}


def example_models():
    """One example of every registered model (trainable ones in several shapes)."""
    out = [pytest.param(kind, cfg, id=f"{kind}-{i}") for i, (kind, cfg) in enumerate(
        (p.values[0], p.values[1]) for p in model_configs())]
    for kind, cls in MODELS.items():
        if not cls.trainable:
            out.append(pytest.param(kind, None, id=kind))
    return out


def build_model(kind, cfg, vocab, seed=0):
    rng = np.random.default_rng(seed)
    if cfg is None:
        return FITTED_EXAMPLES[kind](vocab, rng)
    model = MODELS[kind].create({"vocab_size": vocab.size, "dtype": "float64", **cfg}, rng)
    return perturbed(model, rng)


def perturbed(model, rng, scale=0.3):
    """Give every parameter (biases and initial states too) non-trivial values for gradient checks."""
    for k, v in model.params.items():
        model.params[k] = v + rng.normal(0.0, scale, v.shape)
    return model


def draw(sampler, n, opts=None, seed=None):
    """``sampler.sample`` of ``n`` names under ``opts`` with ``seed`` (the tests' shorthand)."""
    import dataclasses

    from namesmith.sample import SampleOptions
    return sampler.sample(dataclasses.replace(opts or SampleOptions(), n=n, seed=seed))


def kbest(sampler, k, opts=None, **kw):
    """``sampler.best`` of the ``k`` most probable names under ``opts``."""
    import dataclasses

    from namesmith.sample import SampleOptions
    return sampler.best(dataclasses.replace(opts or SampleOptions(), best=k), **kw)


# ----- a real browser: the system's headless Chromium through Playwright (test_browser, test_export) -----
def chromium_path() -> str | None:
    for cand in (os.environ.get("NAMESMITH_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                 "/usr/bin/chromium"):
        if cand and Path(cand).exists():
            return cand
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e '.[test]')")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no system Chromium (apt-get install -y chromium; .ci/run does this)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def two_style_model(folder: Path, per_style: int, steps: int, **options) -> Path:
    """A small GRU (and n-gram, unless mix_ngram=0) trained on two styles with disjoint alphabets (a-h, s-z)."""
    import namesmith

    rng = np.random.default_rng(0)
    lines = ["".join(rng.choice(list(letters), rng.integers(3, 7))) + "\t" + style
             for _ in range(per_style) for style, letters in (("Alpha", "abcdefgh"), ("Omega", "stuvwxyz"))]
    (folder / "two.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    namesmith.fit(folder / "two.tsv", folder / "two.npz", model="gru", hidden=16, embed=8, steps=steps, lr=0.03,
                  samples=0, log=lambda s: None, **options)
    return folder / "two.npz"


def fill_form(page, **values) -> None:
    """Type each value into the page's field of that id (the generation form's declared options)."""
    for field, value in values.items():
        page.fill(f"#{field}", str(value))
