"""The Python API: load a model, generate, score, classify, evaluate, and train, in a few lines.

    import namesmith
    ck = namesmith.load("world")                               # a shipped model, or a file
    print([s.display for s in ck.sample(5, style="Italian", seed=1)])   # Sample(name, display, logprob, ...)
    ck.sample(5, style="Japanese", kind="given", sex="female")  # a factor of the world model: kind, sex
    ck.classify(["Giuseppe"])[0].style                         # 'Italian'

    ck = namesmith.fit("names.txt", model="gru", steps=2000)          # trains in memory, writes nothing
    ck = namesmith.fit("names.txt", out="names.npz", preset="fast")   # also writes the run's files

Library calls never change process-wide settings (malloc tuning, BLAS threads: the CLI's, or
``fit(..., tune_process=True)``). This module is the facade: the run lives in :mod:`namesmith.run`,
several networks in :mod:`namesmith.ensemble`, fine-tuning in :mod:`namesmith.finetune`.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import replace
from pathlib import Path
from collections.abc import Mapping
from typing import Callable, Sequence

import numpy as np

from .checkpoint import CheckpointData, save_checkpoint
from .config import TrainConfig, load_toml, resolve
from .corpus import LONGEST_NAME, load_corpus
from .ensemble import mix_runs, train_members
from .errors import ConfigError, check_bool
from .files import OutputLock, output_target, remove_stale_temps
from .finetune import finetune_base
from .keys import model_digest
from .meta import RunInfo, RunMeta
from .models import Model, summary
from .pretrained import PRETRAINED, load_model_file, pretrained_path
from .run import Phases, Result, Run, RunReport, fit_counts, is_fitted, resume_config, train_one
from .runfiles import check_replace, new_run, run_files
from .runtime import keep_freed_memory
from .sample import Sample, SampleOptions, Sampler, Samples
from .similar import sample_like
from .score import RANK_MIN, Evaluation, NameScore, evaluate, score_names
from .fullnames import full_names
from .styles import Classification, classify, evaluate_styles, factor_ids, posterior, styled
from .train import split_data
from .vocab import Vocab

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Checkpoint:
    """A model with its vocabulary and what it was trained on, and what a user does with it."""

    def __init__(self, data: CheckpointData, run: RunReport | None = None):
        self._data = data
        self.run = run  # how the fit() that made it went (None for a loaded file)

    model: Model = property(lambda self: self._data.model)
    vocab: Vocab = property(lambda self: self._data.vocab)
    meta: RunMeta = property(lambda self: self._data.meta)  # typed metadata (namesmith.meta)
    styles: list[str] = property(lambda self: self._data.styles)
    style_counts: dict[str, int] = property(lambda self: self._data.style_counts)  # training names per style
    factors: dict[str, list[str]] = property(lambda self: self._data.factors)  # kind, sex, ... -> their values
    val_nll: float | None = property(lambda self: self._data.val_nll)  # held-out NLL on its validation names
    corpus_name: str | None = property(lambda self: self._data.corpus_name)
    lowercase: bool = property(lambda self: self._data.lowercase)
    known_hashes: np.ndarray | None = property(lambda self: self._data.known_hashes)
    quantiles: np.ndarray | None = property(lambda self: self._data.quantiles)  # of the training names' nats/char

    def describe(self) -> str:
        return self.model.describe()

    def info(self) -> dict:
        """What the model is, JSON-ready: the web API's /api/models entry and the export's ``info``."""
        val = self.val_nll
        return {"type": self.model.kind, "description": self.model.describe(), "summary": summary(self.model),
                "params": self.model.num_params(), "corpus": self.corpus_name,
                "corpus_names": self.meta.corpus.names or None, "val_nll": val, "lowercase": self.lowercase,
                "val_bits_per_char": val / math.log(2) if val is not None else None,
                "alphabet": "".join(self.vocab.chars[1:]),
                "novelty_check": self.known_hashes is not None, "factors": self.factors,
                "styles": [{"name": n, "names": c} for n, c in self.style_counts.items()]}

    def sampler(self, exclude: Sequence[str] = (), style=None, style_strength: float = SampleOptions.style_strength,
                factors: Mapping[str, str | None] | None = None) -> Sampler:
        """A :class:`~namesmith.sample.Sampler` in ``style`` and ``factors`` (``{"kind": "given"}``), if given."""
        return Sampler(styled(self.model, self.styles, style, style_strength, factor_ids(factors, self.factors)),
                       self.vocab, known_hashes=self.known_hashes, exclude=frozenset(exclude), lowercase=self.lowercase,
                       alphabet=self.meta.corpus.alphabet, digest=self.digest)

    @functools.cached_property
    def digest(self) -> str:
        """What the model is, as 64 hex digits: the same for a re-saved copy (namesmith.keys.model_digest)."""
        return model_digest(self.model, self.vocab, self.styles)

    def sample(self, n: int | None = None, *, exclude: Sequence[str] = (), deadline: float | None = None,
               emit: Callable[[list[Sample]], None] | None = None, **options) -> Samples:
        """``n`` random names (default 10, or 1 with a ``key=``: the key's name; the ``best`` most probable with
        ``best=K``; the closest to liked names with ``like="Aria,Luna"`` or a list); ``options`` are
        :class:`~namesmith.sample.SampleOptions` fields (``style="Italian"``, ``prefix="ka"``, ``seed=1``...).
        The result is a list of :class:`~namesmith.sample.Sample` with the candidates tried and the seed.
        ``deadline`` is a ``time.perf_counter()`` value; ``emit`` receives the names batch by batch instead
        (they are then not kept: memory stays flat for any ``n``)."""
        if n is None:
            n = 1 if options.get("key") is not None else SampleOptions.n
        if isinstance(options.get("like"), (list, tuple)):
            options["like"] = ",".join(map(str, options["like"]))
        opts = SampleOptions.from_kwargs(n=n, **self.with_mode_defaults(options))
        if opts.like is not None or opts.full:  # full names: each part drawn by this method (namesmith.fullnames)
            found = self.like(opts, exclude, deadline) if opts.like is not None else full_names(
                functools.partial(self.sample, exclude=exclude, deadline=deadline), opts, self._data)
            if emit is not None:
                emit(found.names)
            return found
        sampler = self.sampler(exclude, opts.style, opts.style_strength, opts.factor_values())
        if opts.best is not None:
            return sampler.best(opts, deadline=deadline)
        return sampler.sample(opts, deadline, emit)

    def similar(self, names: str | Sequence[str], n: int = 10, **options) -> Samples:
        """``n`` new names close to ``names`` (one name or several): :meth:`sample` with ``like=names``."""
        return self.sample(n, like=names, **options)

    def like(self, opts: SampleOptions, exclude: Sequence[str] = (), deadline: float | None = None) -> Samples:
        """The names of ``opts`` with ``opts.like`` set (:func:`namesmith.similar.sample_like`)."""
        return sample_like(lambda s: self.sampler(exclude, s, opts.style_strength, opts.factor_values()), opts,
                           posterior=functools.partial(posterior, self.model, self.vocab, styles=self.styles,
                                                       counts=self.style_counts) if self.styles else None,
                           styles=self.styles, digest=self.digest, deadline=deadline)

    def with_mode_defaults(self, options: dict) -> dict:
        """``options`` with the defaults that make ``best`` and ``like`` useful: new names only, and for ``best``
        at least ``round(mean length) - 2`` letters of the training list (at least 2); a given value wins."""
        if options.get("best") is None and options.get("like") is None:
            return options
        out = dict(options)
        if "novel" not in out and self.known_hashes is not None:
            out["novel"] = True
        corpus = self.meta.corpus
        if options.get("best") is not None and "min_len" not in out and corpus.names:
            out["min_len"] = max(2, round(corpus.chars / corpus.names) - 2)
        return out

    def best(self, k: int = 10, **options) -> Samples:
        """The ``k`` most probable names that satisfy ``options``, most probable first."""
        return self.sample(k, best=k, **options)

    @property
    def ranks(self) -> bool:
        """Whether scores carry a percentile: the model's quantiles come from at least ``RANK_MIN`` training
        names (a model of 12 names knows them by heart, so every other name ranks below all of them: 0.0%)."""
        return self._data.quantiles is not None and (self.meta.corpus.names or RANK_MIN) >= RANK_MIN

    def score(self, names: Sequence[str], *, style=None, fold_accents: bool = False) -> list[NameScore]:
        """Log-probability, surprisal per character and percentile of each name (under ``style`` if given; no
        percentile when the model was trained on fewer than ``RANK_MIN`` names, see :attr:`ranks`)."""
        return score_names(styled(self.model, self.styles, style), self.vocab, names, fold_accents=fold_accents,
                           quantiles=self._data.quantiles if self.ranks else None, lowercase=self.lowercase)

    def classify(self, names: Sequence[str], *, top: int | None = None, uniform_prior: bool = False,
                 fold_accents: bool = False) -> list[Classification]:
        """Which style each name sounds like: ``p(style | name)`` by Bayes' rule (a model with styles)."""
        return classify(self.model, self.vocab, names, self.styles, counts=self.style_counts, factors=self.factors,
                        uniform_prior=uniform_prior, lowercase=self.lowercase, fold_accents=fold_accents, top=top)

    def evaluate(self, corpus: str | os.PathLike | Sequence[str], *, labels: Sequence[str] | None = None,
                 strict: bool = False, fold_accents: bool = False, uniform_prior: bool = False) -> Evaluation:
        """Held-out NLL (nats/char, end token included) of a corpus file, a built-in corpus or a list of names,
        with its standard error over the names. A labelled corpus (or ``labels``) on a model with styles is
        scored under each name's own style and classified (``accuracy``, ``macro_accuracy``, ``per_style``)."""
        if isinstance(corpus, (str, os.PathLike)):
            loaded = load_corpus(corpus, lowercase=self.lowercase, max_len=LONGEST_NAME)
            corpus, labels = loaded.names, loaded.labels if labels is None else labels
        if labels is not None and self.styles:
            return evaluate_styles(self.model, self.vocab, corpus, labels, self.styles, counts=self.style_counts,
                                   uniform_prior=uniform_prior, lowercase=self.lowercase, fold_accents=fold_accents,
                                   strict=strict)
        return evaluate(self.model, self.vocab, corpus, lowercase=self.lowercase, strict=strict,
                        fold_accents=fold_accents)

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write this model to ``path`` (atomically; never over a file namesmith did not write, and over another
        run's model only with ``force=True``)."""
        check_bool("force", force)
        meta = self.meta if self.meta.run is not None else replace(self.meta, run=RunInfo(**new_run()))
        check_replace(path, meta.run.id, force=force)
        return save_checkpoint(path, self.model, self.vocab, meta, None, self._data.extras)


def load(spec: str | os.PathLike) -> Checkpoint:
    """A validated checkpoint from a file path, or a shipped pretrained model by name (``"world"``)."""
    return Checkpoint(load_model_file(spec))


def pretrained_models() -> list[dict]:
    """Each shipped model: ``name``, ``description``, ``styles`` (style -> training names), ``nll`` (its held-out
    NLL on its validation split), ``bytes``, ``model``, ``corpus`` and ``installed``."""
    rows = []
    for name, (_, description) in PRETRAINED.items():
        path = pretrained_path(name)
        row = {"name": name, "description": description, "installed": path is not None}
        if path is not None:
            ck = load(path)
            row.update(bytes=path.stat().st_size, model=ck.describe(), corpus=ck.corpus_name, nll=ck.val_nll,
                       styles=ck.style_counts)
        rows.append(row)
    return rows


def mix(models: Sequence[str | os.PathLike], out: str | os.PathLike | None = None, *, order: int = 6,
        log: Log | None = None, force: bool = False) -> Checkpoint:
    """An ensemble: the networks of finished runs on one corpus split with a Kneser-Ney n-gram (see
    :func:`namesmith.ensemble.mix_runs`); saved to ``out`` if given."""
    return Checkpoint(mix_runs(models, out, order=order, log=log or _stderr, force=force))


def fit(corpus: str | os.PathLike | None = None, out: str | os.PathLike | None = None, *,
        resume: str | os.PathLike | None = None, config: str | os.PathLike | None = None, log: Log | None = None,
        progress: bool = False, tune_process: bool = False, defaults: dict | None = None, force: bool = False,
        **options) -> Checkpoint:
    """Train (or fit) a model; returns the final :class:`Checkpoint`.

    ``corpus`` is a file, a folder of STYLE.txt files or a built-in corpus name (default: the
    built-in one); ``options`` are :class:`~namesmith.config.TrainConfig` fields (``model="gru"``,
    ``steps=2000``, ``preset="fast"``...), over a TOML ``config`` file. With ``out=None`` nothing
    is written; with a path, the best model goes there and the run's other files beside it.
    ``resume`` continues a run from its checkpoint (``options`` then override what may change);
    ``defaults`` are option values below the preset and the TOML file (the CLI's ``out="model.npz"``);
    ``force`` replaces the files of another run at ``out`` (otherwise refused).
    """
    log = log or _stderr
    check_bool("force", force)
    for key, value in (("corpus", corpus), ("out", out)):
        if value is not None:
            options[key] = value
    options = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items()}
    if tune_process:
        keep_freed_memory()  # no page faults for the temporaries every step reallocates
    if resume is not None and config is not None:
        raise ConfigError("--config cannot be combined with --resume: the run's configuration is stored in its "
                          "checkpoint; give the options to change on the command line")
    if resume is not None:
        cfg, ck, resume = resume_config(resume, options, log)
    else:
        cfg, ck = resolve(options, config, base=defaults), None
    given = set(options) | set(load_toml(config) if config is not None else ())  # what the user set
    base = None
    if cfg.init_from:
        base, cfg = finetune_base(cfg, given)
    if cfg.ensemble > 1 and "ensemble" not in given and (base is not None or cfg.folds > 1):
        log(f"namesmith: the preset's --ensemble {cfg.ensemble} trains new networks on one split; this run trains "
            + ("its folds" if cfg.folds > 1 else "one network from the base") + " instead")
        cfg = replace(cfg, ensemble=1)
    files = run_files(cfg, config, resume, ck.meta if ck is not None else None, force)
    phases = Phases()
    cfg, data = _read(cfg, given, base, phases, log)
    run = Run(cfg, data, files, log, phases, base, progress and not is_fitted(cfg), tune_process and not is_fitted(cfg))
    if files is None:  # nothing written: no files to claim or lock
        return _execute(run, ck)
    with OutputLock(*files.paths.all()):
        files.claim()  # again, holding the lock: another run may have finished meanwhile
        for p in files.paths.all():
            remove_stale_temps(output_target(p))
        return _execute(run, ck)


def _read(cfg: TrainConfig, given: set[str], base, phases: Phases, log: Log):
    """The corpus read once and split (``--folds``: every name is for training; the folds hold out their own)."""
    with phases("reading the data"):
        based = None if base is None else (base.ck.vocab, base.ck.styles)
        loaded = load_corpus(cfg.corpus, lowercase=not cfg.keep_case, max_len=cfg.max_item_len)
        data = split_data(loaded, cfg if cfg.folds == 1 else replace(cfg, val_fraction=0.0), based)
        if cfg.folds > 1 and data.encoded.styles is not None and "folds" not in given:
            log(f"namesmith: the preset's --folds {cfg.folds} is for unlabelled lists; this labelled one trains "
                f"one network, validated on {cfg.val_fraction:.0%} of it")
            cfg = replace(cfg, folds=1)
            data = split_data(loaded, cfg, based)
    return cfg, data


def _execute(run: Run, ck) -> Checkpoint:
    if run.cfg.folds > 1 or run.cfg.ensemble > 1:
        result: Result = train_members(run, ck)
    elif ck is None and is_fitted(run.cfg):
        result = fit_counts(run)
    else:
        result = train_one(run, ck)
    return Checkpoint(result.data, result.report)


__all__ = ["Checkpoint", "RunReport", "fit", "load", "mix", "pretrained_models"]
