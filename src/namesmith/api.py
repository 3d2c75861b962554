"""The Python API: load a model, generate, score, evaluate and train in a few lines.

    import namesmith
    ck = namesmith.load("model.npz")                        # a checkpoint file
    names = ck.sample(5, prefix="ka", seed=1)               # [Sample(name, logprob, nats_per_char, novel, seed)]
    ck.score(["Kara"])[0].percentile                        # more plausible than this % of the training names

    ck = namesmith.fit("names.txt", model="gru", steps=2000)          # trains in memory, writes nothing
    ck = namesmith.fit("names.txt", out="names.npz", preset="fast")   # also writes the run's files

Library calls never change process-wide settings (the malloc tuning and the
BLAS thread count are the CLI's, or ``fit(..., tune_process=True)``).
:func:`fit` wires the pieces together: it reads the data, builds or resumes the
model, runs :func:`namesmith.train.train` and receives its events (checkpoints,
metrics, log lines) through :class:`~namesmith.train.Hooks`; it owns the rules
for the run's files (:mod:`namesmith.files`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
from tqdm.auto import tqdm

from ._version import __version__
from .checkpoint import CheckpointData, load_checkpoint, save_checkpoint
from .config import (ARCHITECTURE, FIELDS, MAX_SEED, REGULARIZERS, RESUME_FIXED, TrainConfig, from_dict, load_toml,
                     resolve)
from .corpus import FEW_NAMES, LONGEST_NAME, display_name, is_builtin, load_corpus, name_hashes
from .errors import CheckpointError, ConfigError, Interrupted, TrainingDiverged
from .files import (OutputLock, StagedLog, ensure_writable, output_target, read_jsonl, refuse_inputs,
                    remove_stale_temps, same_file)
from .models import FittedModel, Model, model_class
from .models.mixture import Mixture, fit_weights
from .models.ngram import NGram
from .optim import OPTIMIZERS
from .runtime import ThreadTuner, keep_freed_memory, run_parallel, usable_cores, worker_log
from .sample import Sample, SampleOptions, SampleReport, Sampler
from .pretrained import PRETRAINED, pretrained_path
from .runfiles import RunFiles, RunPaths, check_replace, new_run
from .runfiles import owner as runfiles_owner
from .score import NameScore, evaluate, nll_quantiles, score_names
from .styles import classify, evaluate_styles, styled
from .train import (STREAM_INIT, Hooks, Outcome, RunState, TrainData, fold_data, heldout_nll, load_data, mix_folds,
                    mix_with_ngram, split_data, stream, train)

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class RunReport:
    """How a :func:`fit` run went (``Checkpoint.run``)."""

    stopped: str  # steps | time limit | early stopping | fitted
    steps: int
    seconds: float
    chars_per_s: float
    paths: RunPaths | None  # None when nothing was written
    samples: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds of each phase of the run


class Phases:
    """Wall time of each phase of a run (``with phases("read"): ...``), for the log and the metrics file."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t

    def line(self) -> str:
        return "namesmith: time: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.seconds.items())


@dataclass
class Checkpoint(CheckpointData):
    """A model with its vocabulary and metadata, and what a user does with it."""

    run: RunReport | None = None

    @classmethod
    def of(cls, data: CheckpointData, run: RunReport | None = None) -> "Checkpoint":
        return cls(data.model, data.vocab, data.meta, data.optim, data.extras, run)

    def describe(self) -> str:
        return self.model.describe()

    def sampler(self, exclude: Sequence[str] = (), style=None) -> Sampler:
        """A :class:`~namesmith.sample.Sampler` that knows every name this model was given.

        ``style``: one of :attr:`styles`, a blend ``"A=0.7,B=0.3"`` or ``{"A": 0.7, "B": 0.3}``
        (see :mod:`namesmith.styles`), or None for the pooled model.
        """
        return Sampler(styled(self.model, self.styles, style), self.vocab, known_hashes=self.known_hashes,
                       exclude=frozenset(exclude), lowercase=self.lowercase)

    def sample_report(self, n: int = 10, seed: int | None = None, *, exclude: Sequence[str] = (),
                      deadline: float | None = None, style=None, **options) -> SampleReport:
        """Like :meth:`sample`, with the number of candidates tried and the run's seed."""
        return self.sampler(exclude, style).sample(n, SampleOptions.from_kwargs(**options), seed=seed,
                                                   deadline=deadline)

    def sample(self, n: int = 10, seed: int | None = None, *, style=None, **options) -> list[Sample]:
        """``n`` random names, in a ``style`` or blend if given; ``options`` are
        :class:`~namesmith.sample.SampleOptions` fields (prefix=...)."""
        return self.sample_report(n, seed, style=style, **options).samples

    def best(self, k: int = 10, *, style=None, **options) -> list[Sample]:
        """The ``k`` most probable names that satisfy ``options``, most probable first."""
        return self.sampler(style=style).best(k, SampleOptions.from_kwargs(**options))

    def score(self, names: Sequence[str], *, style=None, fold_accents: bool = False) -> list[NameScore]:
        """Log-probability, surprisal per character and percentile of each name (under ``style`` if given)."""
        return score_names(styled(self.model, self.styles, style), self.vocab, names, quantiles=self.quantiles,
                           lowercase=self.lowercase, fold_accents=fold_accents)

    def classify(self, names: Sequence[str], *, top: int | None = None, uniform_prior: bool = False,
                 fold_accents: bool = False) -> list[dict]:
        """Which style each name sounds like: ``p(style | name)`` by Bayes' rule (see :func:`styles.classify`)."""
        return classify(self.model, self.vocab, names, self.styles, counts=self.style_counts,
                        uniform_prior=uniform_prior, lowercase=self.lowercase, fold_accents=fold_accents, top=top)

    def evaluate(self, corpus: str | os.PathLike | Sequence[str], *, labels: Sequence[str] | None = None,
                 strict: bool = False, fold_accents: bool = False, uniform_prior: bool = False) -> dict:
        """Held-out NLL (nats/char, end token included) of a corpus file, a built-in corpus or a list of names,
        and ``nll_se``, its standard error over the names.

        A labelled corpus (or ``labels``) on a model with styles is scored under each
        name's own style and classified: ``accuracy``, ``macro_accuracy``, ``per_style``.
        """
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
        """Write this model to ``path`` (atomically; never over a directory, device or a file that is not
        namesmith's; over another run's model only with ``force=True``)."""
        if not isinstance(force, bool):
            raise ConfigError(f"force must be True or False, got {force!r}")
        meta = {k: v for k, v in self.meta.items() if k not in ("model", "vocab")}
        meta.setdefault("run", new_run())
        check_replace(path, meta["run"]["id"], force=force)
        return save_checkpoint(path, self.model, self.vocab, meta, None, self.extras)


def load(spec: str | os.PathLike) -> Checkpoint:
    """A validated checkpoint from a file path, or a shipped pretrained model by name (``"world"``)."""
    if isinstance(spec, str) and not os.path.exists(spec) and spec in PRETRAINED:
        path = pretrained_path(spec)
        if path is None:
            raise CheckpointError(f"the pretrained model {spec!r} is not installed with this copy of namesmith")
        return Checkpoint.of(load_checkpoint(path))
    try:
        return Checkpoint.of(load_checkpoint(spec))
    except CheckpointError as e:
        if isinstance(spec, (str, os.PathLike)) and not os.path.exists(spec):
            raise CheckpointError(f"{e}; the shipped models are {', '.join(PRETRAINED)} "
                                  "(namesmith models)") from None
        raise


def pretrained_models() -> list[dict]:
    """Each shipped model: ``name``, ``description``, ``styles`` (style → training names), ``nll`` (its held-out
    NLL on its validation split), ``bytes``, ``model``, ``corpus`` and ``installed``."""
    rows = []
    for name, (_, description) in PRETRAINED.items():
        path = pretrained_path(name)
        row = {"name": name, "description": description, "installed": path is not None}
        if path is not None:
            ck = load(path)
            row.update(bytes=path.stat().st_size, model=ck.describe(), corpus=ck.corpus_name,
                       nll=ck.val_nll, styles=ck.style_counts)
        rows.append(row)
    return rows


# ----- ensembles --------------------------------------------------------------------------------------------
SAME_SPLIT = ("corpus", "val", "val_fraction", "val_max", "seed", "keep_case", "max_item_len")


def mix(models: Sequence[str | os.PathLike], out: str | os.PathLike | None = None, *, order: int = 6,
        log: Log | None = None, force: bool = False) -> Checkpoint:
    """An ensemble: the networks of finished runs on one corpus split, interpolated with a Kneser-Ney n-gram.

    Every run must have trained on the same corpus with the same ``--seed`` and
    validation split (so no network saw the validation names); the n-gram is
    counted on the training names and the weights fitted by EM on the validation
    names, as ``--mix-ngram`` does for one network. With ``out`` the ensemble is
    saved (it samples, scores and serves like any model).
    """
    log = log or _stderr
    if not isinstance(models, (list, tuple)) or not 2 <= len(models) <= 7:
        raise ConfigError("an ensemble needs 2 to 7 trained models")
    if not (isinstance(order, int) and not isinstance(order, bool) and 1 <= order <= 10):
        raise ConfigError(f"the n-gram order must be a whole number in [1, 10], got {order!r}")
    cks = [load(m) for m in models]
    nets, configs = [], []
    for spec, ck in zip(models, cks):
        net = [p for p in getattr(ck.model, "parts", [ck.model]) if p.trainable]
        stored = ck.meta.get("train", {}).get("config")
        if not net or not isinstance(stored, dict) or "recipe" in stored:
            raise ConfigError(f"{spec}: not a network trained by namesmith train (an ensemble mixes their networks)")
        if stored.get("folds", 1) > 1:
            raise ConfigError(f"{spec}: its --folds networks saw every name, and an ensemble's weights are fitted "
                              "on validation names no network saw")
        nets.extend(net)  # every network of the run (an --ensemble run has several)
        configs.append(from_dict(stored))
    cfg = configs[0]
    for spec, other in zip(models[1:], configs[1:]):
        differ = [k for k in SAME_SPLIT if getattr(other, k) != getattr(cfg, k)]
        if differ:
            raise ConfigError(f"{spec} was trained on another split than {models[0]} (its {differ[0]} differs); "
                              "an ensemble needs runs with the same corpus, --seed and validation split")
    run = new_run()
    if out is not None:  # before any work: an output that is an input, or cannot be written, is refused now
        refuse_inputs([output_target(out)], [("model", os.fspath(m)) for m in models] + [("corpus", cfg.corpus)])
        check_replace(out, run["id"], force=force)
        ensure_writable(output_target(out))
    data = load_data(cfg)
    for spec, ck in zip(models, cks):
        if ck.vocab != data.vocab or ck.meta.get("corpus", {}).get("fingerprint") != data.train.fingerprint():
            raise ConfigError(f"{spec}: its corpus {cfg.corpus or '(built-in)'} has changed since it was trained")
    if len({n.styles for n in nets}) > 1:
        raise ConfigError("an ensemble needs networks with the same styles")
    final, val = mix_with_ngram(nets, data, order, cfg.discount)
    log(f"namesmith: ensemble of {len(nets)} networks + a {final.parts[-1].order}-gram: weights "
        f"{' / '.join(f'{w:.3f}' for w in final.config['weights'])}, validation NLL {val:.4f} nats/char")
    meta = {"run": run, "train": {**cks[0].meta["train"], "ensemble": [os.fspath(m) for m in models]},
            "rng": cks[0].meta.get("rng", {}), "corpus": cks[0].meta["corpus"], "metrics": {"val_nll": val}}
    if "styles" in cks[0].meta:
        meta["styles"] = cks[0].meta["styles"]
    extras = {"known_hashes": cks[0].extras.get("known_hashes"),
              "train_nll_quantiles": nll_quantiles(final, data.encoded)}
    extras = {k: v for k, v in extras.items() if v is not None}
    if out is not None:
        save_checkpoint(out, final, data.vocab, meta, None, extras)
    return Checkpoint(final, data.vocab, meta, {}, extras)


# ----- training -------------------------------------------------------------------------------------------
def fit(corpus: str | os.PathLike | None = None, out: str | os.PathLike | None = None, *,
        resume: str | os.PathLike | None = None, config: str | os.PathLike | None = None, log: Log | None = None,
        progress: bool = False, tune_process: bool = False, defaults: dict | None = None, force: bool = False,
        **options) -> Checkpoint:
    """Train (or fit) a model; returns the final :class:`Checkpoint`.

    ``corpus`` is a file or a built-in corpus name (default: the built-in one);
    ``options`` are :class:`~namesmith.config.TrainConfig` fields (``model="gru"``,
    ``steps=2000``, ``preset="fast"``...), over a TOML ``config`` file. With
    ``out=None`` nothing is written; with a path, the best model goes there and the
    run's other files beside it (see README). ``resume`` continues a run from its
    checkpoint; ``options`` then override what may change (steps, lr schedule...).
    ``defaults`` are option values below the preset and the TOML file (the CLI's ``out="model.npz"``).
    ``force``: replace the files of another run at ``out`` (otherwise refused; see :mod:`namesmith.runfiles`).
    """
    if not isinstance(force, bool):
        raise ConfigError(f"force must be True or False, got {force!r}")
    log = log or _stderr
    if corpus is not None:
        options["corpus"] = os.fspath(corpus) if isinstance(corpus, os.PathLike) else corpus
    if out is not None:
        options["out"] = os.fspath(out) if isinstance(out, os.PathLike) else out
    for key in ("val", "init_from"):  # paths may be given as Path objects
        if isinstance(options.get(key), os.PathLike):
            options[key] = os.fspath(options[key])
    if tune_process:
        keep_freed_memory()  # no page faults for the temporaries every step reallocates
    if resume is not None:
        if config is not None:
            raise ConfigError("--config cannot be combined with --resume: the run's configuration is stored in its "
                              "checkpoint; give the options to change on the command line")
        cfg, ck, resume = _resume_config(resume, options, log)
    else:
        cfg, ck = resolve(options, config, base=defaults), None
    base = None
    given = set(options) | set(load_toml(config) if config is not None else ())  # what the user set
    if cfg.init_from:
        base, cfg = _finetune_base(cfg, given)
    if cfg.ensemble > 1 and "ensemble" not in given and (base is not None or cfg.folds > 1):
        log(f"namesmith: the preset's --ensemble {cfg.ensemble} trains new networks on one split; this run trains "
            + ("its folds" if cfg.folds > 1 else "one network from the base") + " instead")
        cfg = replace(cfg, ensemble=1)
    paths = RunPaths.of(cfg.out) if cfg.out else None
    inputs = [("corpus", None if is_builtin(cfg.corpus) or cfg.corpus is None else cfg.corpus),
              ("validation file", cfg.val), ("configuration file", config), ("base model", cfg.init_from)]
    files = None
    if paths is not None:
        resumed = [] if resume is None or same_file(resume, paths.last) else [("checkpoint to resume", resume)]
        refuse_inputs([output_target(p) for p in paths.all()], inputs + resumed)
        run = (ck.meta.get("run") if ck is not None else None) or new_run()
        files = RunFiles(paths, run, force, resuming=ck is not None)
        files.claim()
        ensure_writable(output_target(paths.best))
    phases = Phases()
    with phases("reading the data"):  # --folds: every name is for training; the folds hold out their own
        based = None if base is None else (base.ck.vocab, base.ck.styles)
        loaded = load_corpus(cfg.corpus, lowercase=not cfg.keep_case, max_len=cfg.max_item_len)  # read once
        data = split_data(loaded, cfg if cfg.folds == 1 else replace(cfg, val_fraction=0.0), based)
        if cfg.folds > 1 and data.encoded.styles is not None and "folds" not in given:
            log(f"namesmith: the preset's --folds {cfg.folds} is for unlabelled lists; this labelled one trains "
                f"one network, validated on {cfg.val_fraction:.0%} of it")
            cfg = replace(cfg, folds=1)
            data = split_data(loaded, cfg, based)
    runner = _Run if cfg.folds == 1 and cfg.ensemble == 1 else _Members
    if files is None:
        return runner(cfg, data, ck, None, log, progress, tune_process, phases, base).execute()
    with OutputLock(*paths.all()):
        files.claim()  # again, holding the lock: another run may have finished meanwhile
        for p in paths.all():
            remove_stale_temps(output_target(p))
        return runner(cfg, data, ck, files, log, progress, tune_process, phases, base).execute()


@dataclass
class _Base:
    """What ``--init-from`` starts from: the base checkpoint and its network."""

    ck: "Checkpoint"
    network: Model
    source: str
    said: bool = False  # the styles the list sounds like were logged (once, not once per fold)
    heard: dict[tuple[str, ...], np.ndarray | None] = field(default_factory=dict)  # names -> _list_styles of them

    def sounds_like(self, names: Sequence[str]) -> np.ndarray | None:
        """:func:`_list_styles` of ``names`` on the base, computed once per list (the network's start and the
        n-gram's choice ask for the same names)."""
        key = tuple(names)
        if key not in self.heard:
            self.heard[key] = _list_styles(self.ck, key)
        return self.heard[key]

    def ngram(self, data: TrainData) -> tuple[list[Model], str]:
        """The base's n-gram as a fixed part of a fine-tuned list's mixture, and what the log says of it.

        An unlabelled list takes the base's n-gram (of a styled base, the n-gram of the
        style the list sounds most like, without the pooled counts); the mixture's EM
        gives it its weight. Nothing for a labelled list (its styled n-gram is fitted
        on it) or when the list adds characters the base's counts never saw.
        """
        grams = [p for p in getattr(self.ck.model, "parts", [self.ck.model]) if not p.trainable]
        if not grams or data.encoded.styles is not None:
            return [], ""
        gram, what = grams[0], "the base's n-gram"
        if gram.vocab_size != data.vocab.size:
            return [], "; the base's n-gram is left out (the list adds characters it never counted)"
        post = self.sounds_like(data.train.names) if gram.styles else None
        if post is not None:
            top = int(np.argmax(post))
            gram, what = gram.parts[top], f"the base's n-gram of {self.ck.styles[top]}"
        elif gram.styles:
            gram = gram.pooled
        return [gram], f" and {what}"


def _finetune_base(cfg: TrainConfig, given: set[str]) -> tuple[_Base, TrainConfig]:
    """The base checkpoint of ``--init-from`` and the configuration with its architecture.

    The network is the base's trainable part (a mixture's neural component); its
    architecture options replace the run's, and giving a different one is an error.
    Its regularisers (dropout, ...) are kept unless ``given`` (the options the user set) names them.
    """
    base = load(cfg.init_from)
    nets = [p for p in getattr(base.model, "parts", [base.model]) if p.trainable]
    if not nets:
        raise ConfigError(f"{cfg.init_from}: fine-tuning needs a neural network to start from, and this is a "
                          f"{base.model.kind} model (train the small list directly, e.g. --model ngram)")
    net = nets[0]
    arch = {"model": net.kind, **{k: net.config[k] for k in ARCHITECTURE if k != "model" and k in net.config}}
    clash = [k for k in arch if k in given and getattr(cfg, k) != arch[k]]
    if clash:
        raise ConfigError(f"fine-tuning keeps the base model's architecture (--{clash[0].replace('_', '-')} "
                          f"{arch[clash[0]]}); leave --{clash[0].replace('_', '-')} out")
    kept = {k: net.config[k] for k in REGULARIZERS if k in net.config and k not in given}
    return _Base(base, net, cfg.init_from), replace(cfg, **arch, **kept).validate()


def _list_styles(ck: "Checkpoint", names, most: int = 2000) -> np.ndarray | None:
    """The mean of ``p(style | name)`` (uniform prior) over (at most ``most`` of) ``names``: the styles an
    unlabelled list sounds like to a styled model; None when no name can be scored."""
    names = list(names)[:: max(1, math.ceil(len(names) / most))]
    rows = [r["styles"] for r in ck.classify(names, uniform_prior=True) if r["style"] is not None]
    if not rows:
        return None
    post = np.array([[r[s] for s in ck.styles] for r in rows]).mean(axis=0)  # (S,)
    return post / post.sum()


class _Members:
    """A run of several networks, then mixed: ``--folds K`` (K networks, each trained with its own fold held out,
    averaged with an n-gram of all the names: :func:`~namesmith.train.fold_data`,
    :func:`~namesmith.train.mix_folds`) or ``--ensemble N`` (N networks on the same split, network k with seed
    ``seed + k``, mixed with the n-gram by :func:`~namesmith.train.mix_with_ngram`). The networks train in
    separate processes, as many at once as ``--jobs`` (default: one per core); only the final model is saved."""

    def __init__(self, cfg: TrainConfig, data: TrainData, ck: CheckpointData | None, files: RunFiles | None,
                 log: Log, progress: bool, tune: bool, phases: Phases, base: _Base | None = None):
        flag = "--folds" if cfg.folds > 1 else "--ensemble"
        if ck is not None:
            raise ConfigError(f"a {flag} run cannot be resumed (it saves only its final model); start it again")
        if issubclass(model_class(cfg.model), FittedModel):
            raise ConfigError(f"{flag} trains networks; --model {cfg.model} is fitted from counts in one pass")
        if cfg.folds > 1 and cfg.ensemble > 1:
            raise ConfigError("--folds already trains several networks; leave out --ensemble")
        if cfg.folds > 1 and data.encoded.styles is not None:
            raise ConfigError("--folds works on unlabelled lists; train a labelled corpus with --val-fraction")
        if cfg.folds > 1 and len(data.train) < 2 * cfg.folds:
            raise ConfigError(f"--folds {cfg.folds} needs at least {2 * cfg.folds} names, got {len(data.train)}")
        if cfg.ensemble > 1 and base is not None:
            raise ConfigError("--ensemble trains networks from scratch; to fine-tune several, use --folds")
        if cfg.ensemble > 1 and not len(data.val):
            raise ConfigError("--ensemble fits its mixture weights on validation names: give --val or a "
                              "--val-fraction > 0")
        self.args = (cfg, data, files, log, progress, tune, phases, base)

    def execute(self) -> Checkpoint:
        cfg, data, files, log, progress, tune, phases, base = self.args
        paths = files.paths if files is not None else None
        one = replace(cfg, folds=1, ensemble=1, mix_ngram=0, out=None, samples=0)
        if cfg.folds > 1:
            splits = fold_data(data, cfg.folds, cfg.seed)
            jobs = [(one, split, f"fold {k + 1} of {cfg.folds}", base) for k, split in enumerate(splits)]
        else:
            splits = []
            jobs = [(replace(one, seed=(cfg.seed + k) % (MAX_SEED + 1)), data, f"network {k + 1} of {cfg.ensemble}",
                     base) for k in range(cfg.ensemble)]
        workers = min(len(jobs), cfg.jobs or usable_cores())
        t = time.perf_counter()
        trained = self._train(jobs, workers)
        nets, best = [x.model for x in trained], [x.val_nll for x in trained]
        steps, seconds = sum(x.steps for x in trained), sum(x.seconds for x in trained)
        if workers > 1:  # each network's phases were logged by its worker; here, the wall time
            seconds = phases.seconds[f"training {len(jobs)} networks side by side"] = time.perf_counter() - t
        with phases("the n-gram mixture"):
            mixture, val, what = self._mix(nets, splits)
        log(f"{what}: {'out-of-fold' if splits else 'validation'} NLL {val:.4f} nats/char (the networks alone: "
            + " / ".join(f"{b:.4f}" for b in best) + ")")
        saver = _Saver(cfg, data, files, log, phases, base)  # saves like any run
        meta = saver._run_meta(mixture, RunState(steps, val), neural_val_nll=float(np.mean(best)),
                               member_val_nll=[float(b) for b in best])
        meta["train"]["stopped"] = "folds" if splits else "ensemble"
        if paths is not None:  # each network's records, marked with its number (namesmith plot draws them all)
            saver.metrics = StagedLog(paths.metrics, header=saver.metrics_header)
            for k, x in enumerate(trained):
                for rec in x.records:
                    saver.metrics.write({"member": k + 1, **rec})
        try:
            return saver._save_final(mixture, meta, RunReport(meta["train"]["stopped"], steps, seconds, 0.0, paths))
        finally:
            if saver.metrics is not None:
                saver.metrics.close()

    def _train(self, jobs: list, workers: int) -> list[_Trained]:
        """Each job's network, trained in ``workers`` processes side by side, or here one after the other."""
        cfg, data, files, log, progress, tune, phases, base = self.args
        what = f"{len(jobs)} {'folds' if cfg.folds > 1 else 'networks'}"
        if workers > 1:
            log(f"namesmith: training {what}, {workers} at a time in separate processes")
            if base is not None:  # the list's styles are said once (by the first fold), not once per fold
                jobs = [(*job[:3], replace(base, said=base.said or k > 0)) for k, job in enumerate(jobs)]
            try:
                return run_parallel(partial(_train_member, tune=tune), jobs, workers, log)
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted while training {what}; nothing saved (start the run again)") from None
        out = []
        for one, split, label, _ in jobs:
            log(f"namesmith: {label}: {len(split.train):,} names to train on, {len(split.val):,} held out")
            out.append(_member_run(one, split, label, log, progress, tune, phases, base))
        return out

    def _mix(self, nets: list[Model], splits: list[TrainData]) -> tuple[Model, float, str]:
        """The networks mixed (with the n-gram, unless ``--mix-ngram 0``), its held-out NLL, and the log's words."""
        cfg, data, base, n = self.args[0], self.args[1], self.args[7], len(nets)
        fixed, note = base.ngram(data) if base is not None and cfg.mix_ngram else ([], "")
        if splits:
            mixture, val = mix_folds(nets, splits, data, cfg.mix_ngram, cfg.discount, fixed)
        elif cfg.mix_ngram:
            mixture, val = mix_with_ngram(nets, data, cfg.mix_ngram, cfg.discount, fixed)
        else:
            mixture = Mixture.of(nets, fit_weights(nets, data.val_encoded))
            val = heldout_nll(mixture, data.val_encoded)
        w = mixture.config["weights"]
        names = f"all {len(data.train):,} names" if splits else "the training names"
        mixed = (f" with a {mixture.parts[n].order}-gram of {names}{note} ({' / '.join(f'{x:.3f}' for x in w[n:])})"
                 if cfg.mix_ngram else "")
        how = "averaged" if splits else "mixed"
        return mixture, val, f"{how} {n} networks ({sum(w[:n]):.3f} in all){mixed}"


class _Trained(NamedTuple):
    """One network of a :class:`_Members` run, as its run left it."""

    model: Model
    steps: int
    seconds: float
    val_nll: float
    records: list[dict]  # its metrics (log and evaluation records)


def _member_run(cfg: TrainConfig, data: TrainData, label: str, log: Log, progress: bool, tune: bool, phases: Phases,
                base: _Base | None) -> _Trained:
    """One network of a :class:`_Members` run, trained here; Ctrl-C says which one it reached."""
    run = _Run(cfg, data, None, None, log, progress, tune, phases, base)
    run.records = []
    try:  # the network alone: the parent mixes the networks, computes score quantiles and saves
        outcome = run.train_network()
    except Interrupted:
        raise Interrupted(f"interrupted in {label}; nothing saved (start the run again)") from None
    return _Trained(run.model, run.state.step, outcome.seconds, run.state.best_val_nll, run.records)


def _train_member(job: tuple, tune: bool) -> _Trained:
    """In a worker process (:func:`~namesmith.runtime.run_parallel`): one network of a :class:`_Members` run
    (``tune``: its share of the BLAS threads is checked against one thread, as in a single run)."""
    cfg, data, label, base = job
    log, phases = worker_log(label), Phases()
    trained = _member_run(cfg, data, label, log, False, tune, phases, base)
    log(phases.line())
    return trained


def _resume_config(resume, overrides: dict, log: Log) -> tuple[TrainConfig, CheckpointData, Path]:
    """The run's stored configuration with the allowed overrides, its checkpoint and that file (see --resume)."""
    if not isinstance(resume, (str, os.PathLike)) or not os.fspath(resume):
        raise ConfigError("--resume needs the checkpoint of a run (MODEL.npz or MODEL.last.npz); got an empty path")
    path = Path(os.fspath(resume))
    last = RunPaths.of_any(path).last
    ck = load_checkpoint(path)
    if "optimizer" not in ck.meta and last.exists() and not same_file(path, last):
        mine = (ck.meta.get("run") or {}).get("id")
        theirs = runfiles_owner(last)
        if theirs is None or not theirs.ours or theirs.run != mine:
            raise CheckpointError(f"{last} belongs to another run than {path}, so it cannot continue it; "
                                  f"resume from {last} itself if that is the run you mean")
        log(f"namesmith: {path} is the run's finished model; resuming from its last state {last}")
        path, ck = last, load_checkpoint(last)
    stored = ck.section("train").get("config")
    if not isinstance(stored, dict) or "recipe" in stored or "recipe" in ck.section("train"):
        raise CheckpointError(f"{path}: has no training state to resume from (a seed-recipe or fitted model)")
    if not ck.model.trainable or "optimizer" not in ck.meta or "step" not in ck.section("train"):
        raise CheckpointError(f"{path}: is a finished model ({ck.model.kind}) without optimizer state; "
                              f"resume from the run's last checkpoint ({last}) instead")
    try:
        base = from_dict({k: v for k, v in stored.items() if k in FIELDS})
    except ConfigError as e:
        raise CheckpointError(f"{path}: its stored configuration is invalid: {e}") from None
    changed = sorted(k for k in set(overrides) & RESUME_FIXED if overrides[k] != getattr(base, k))
    if changed:
        raise ConfigError(f"cannot change {', '.join('--' + k.replace('_', '-') for k in changed)} "
                          "when resuming; start a new run instead")
    # the run continues beside the checkpoint it resumes (a moved folder stays whole), unless -o says otherwise
    here = {"out": str(RunPaths.of_any(path).best)} if "out" not in overrides else {}
    return from_dict({**base.to_dict(), **here, **overrides}), ck, path


class _Saver:
    """What every run records about its data and how it saves its final model (:class:`_Run`, :class:`_Members`)."""

    def __init__(self, cfg: TrainConfig, data: TrainData, files: RunFiles | None, log: Log, phases: Phases,
                 base: _Base | None = None):
        self.cfg, self.data, self.files, self.log, self.phases = cfg, data, files, log, phases
        self.paths = files.paths if files is not None else None
        self.run = files.run if files is not None else new_run()
        self.base = base
        self.corpus_meta = {"source": data.source.source, "name": data.source.name,
                            "fingerprint": data.train.fingerprint(), "names": len(data.train),
                            "chars": data.train.chars, "val_source": data.val.source, "val_names": len(data.val),
                            "lowercase": not cfg.keep_case}
        self.metrics: StagedLog | None = None

    @cached_property
    def hashes(self) -> np.ndarray:
        """Hashes of every known name (for --novel), computed when a file is first saved: a --folds/--ensemble
        network saves none, so only the run that saves hashes them."""
        with self.phases("hashing the names"):
            return np.union1d(name_hashes(self.data.train.names), name_hashes(self.data.val.names))

    @property
    def metrics_header(self) -> dict:
        """The first line of the run's metrics log: which run it belongs to."""
        return {"run": self.run["id"], "started": self.run["started"], "namesmith": __version__}

    def _publish_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.publish()
            self.files.wrote(self.paths.metrics)

    def _save(self, path: Path, model: Model, meta: dict, optim, extras: dict, compress: bool = True) -> None:
        """Save one of the run's files and note it (the first save sweeps other runs' files; runfiles)."""
        save_checkpoint(path, model, self.data.vocab, meta, optim, extras, compress=compress)
        self.files.wrote(path)

    def _run_meta(self, model: Model, state: RunState, **metrics) -> dict:
        """The checkpoint's metadata: the loop's state and configuration, the seed, the corpus and ``metrics``."""
        cfg = self.cfg
        train_meta = {**state.to_dict(), "epoch": state.step / max(1, math.ceil(len(self.data.train) / cfg.batch_size)),
                      "config": cfg.to_dict()}
        return self._styles_meta(model, {
            "run": self.run, "train": train_meta,
            "rng": {"seed": cfg.seed, "scheme": "SeedSequence(seed, spawn_key=(stream, epoch|step))"},
            "corpus": self.corpus_meta, "metrics": {"val_nll": state.best_val_nll, **metrics}})

    def _styles_meta(self, model: Model, meta: dict) -> dict:
        """``meta`` with the style names and training counts, when ``model`` is conditioned on styles."""
        if model.styles:
            counts = self.data.train.style_counts()
            if self.base is not None:  # fine-tuned: the base's names count too
                for s, n in self.base.ck.style_counts.items():
                    counts[s] = counts.get(s, 0) + n
            meta["styles"] = {"names": list(self.data.styles), "counts": [counts.get(s, 0) for s in self.data.styles]}
        return meta

    def _save_final(self, model: Model, meta: dict, run: RunReport) -> Checkpoint:
        meta = self._styles_meta(model, meta)
        hashes = self.hashes  # (its own phase, before the next)
        with self.phases("score quantiles"):
            extras = {"known_hashes": hashes, "train_nll_quantiles": nll_quantiles(model, self.data.encoded)}
        if self.paths is not None:
            with self.phases("saving"):
                self._save(self.paths.best, model, meta, None, extras)
            self._publish_metrics()
            self.files.finish()
        ck = Checkpoint(model, self.data.vocab, meta, {}, extras, run)
        with self.phases("sample names"):
            run.samples = [s.name for s in ck.sample(10, seed=self.cfg.seed, max_len=self.cfg.max_item_len)]
        run.phases = dict(self.phases.seconds)
        self.log(self.phases.line())
        if self.metrics is not None:
            self.metrics.write({"step": run.steps, "phases": run.phases})
        return ck


class _Run(_Saver, Hooks):
    """One call of :func:`fit`: the model, its optimizer and state, and where the events go."""

    def __init__(self, cfg: TrainConfig, data: TrainData, ck: CheckpointData | None, files: RunFiles | None,
                 log: Log, progress: bool, tune: bool, phases: Phases, base: _Base | None = None):
        super().__init__(cfg, data, files, log, phases, base)
        self.best_params: dict[str, np.ndarray] | None = None
        self.records: list[dict] | None = None  # a --folds/--ensemble network: its metrics, kept for the parent
        cls = model_class(cfg.model)
        self.fitted = ck is None and issubclass(cls, FittedModel)  # an n-gram: counted in one pass
        if self.fitted:
            cls.check_config(cfg.model_config(data.vocab.size, len(data.styles)))
            self.model, self.opt, self.state = cls, None, RunState()
        else:
            self.model, self.state = self._model_and_state(cls, ck)
            self.opt = OPTIMIZERS[cfg.optimizer].from_config(cfg).average(cfg.ema)
            self.opt.bind(self.model.params)  # one flat buffer: a few large update operations per step
            if ck is not None:
                try:
                    self.opt.load_state(ck.meta.get("optimizer"), ck.optim, self.model.params)
                except ConfigError as e:
                    raise CheckpointError(f"the checkpoint's optimizer state does not fit: {e}") from None
        self.tuner = ThreadTuner() if tune and not self.fitted else None
        self.bar = None
        if progress and not self.fitted:
            self.bar = tqdm(total=None, initial=self.state.step, unit="step", dynamic_ncols=True, file=sys.stderr,
                            leave=False)

    def _model_and_state(self, cls: type[Model], ck: CheckpointData | None) -> tuple[Model, RunState]:
        cfg, data = self.cfg, self.data
        if ck is None and self.base is not None:
            return self._grown_base(), RunState()
        if ck is None:
            config = cfg.model_config(data.vocab.size, len(data.styles))
            return cls.create(config, stream(cfg.seed, STREAM_INIT)), RunState()
        if ck.section("corpus").get("fingerprint") != data.train.fingerprint():
            raise ConfigError(f"the checkpoint was trained on different data than "
                              f"{cfg.corpus or 'the default corpus'}; resume with the same corpus")
        if ck.vocab != data.vocab:
            raise ConfigError("the checkpoint has a different vocabulary than this corpus")
        t = ck.section("train")
        return ck.model, RunState(t["step"], t.get("best_val_nll"), t.get("evals_since_best", 0),
                                  list(t.get("window", [0.0, 0, 0])))

    # ----- running ------------------------------------------------------------------------------------
    def execute(self) -> Checkpoint:
        if self.fitted:
            return self._fit_counts(self.model)
        self.hashes  # noqa: B018  (hashed now, in a phase of its own, not inside the loop's first checkpoint)
        try:  # the tuner's last choice of BLAS threads also serves the mixture fit and the score quantiles
            return self._finish(self.train_network())
        finally:
            if self.metrics is not None:
                self.metrics.close()
            if self.tuner is not None:
                self.tuner.close()

    def train_network(self) -> Outcome:
        """The training loop, with its log, progress bar and metrics; ends with the best network's weights
        in ``self.model``. All that a --folds/--ensemble network needs (:func:`_member_run`); a whole run
        goes on to :meth:`_finish` (the n-gram mixture, score quantiles, saving)."""
        if self.cfg.mix_ngram and not len(self.data.val):
            raise ConfigError("--mix-ngram fits its weights on validation names: give --val or a --val-fraction > 0")
        self.log(f"namesmith: training {self.model.describe()} on {len(self.data.train):,} names "
                 f"({self.data.train.source}), validating on {len(self.data.val):,}; "
                 f"alphabet {self.data.vocab.describe()}")
        self._log_styles()
        self.log("configuration: " + json.dumps(self.cfg.to_dict(), sort_keys=True))
        self.metrics = self._open_metrics()
        try:
            with self.phases("training"):
                outcome = train(self.model, self.data, self.cfg, self.opt, self.state, self)
            loop = self.phases.seconds.pop("training")  # the loop: its steps, and the rest
            sec = self.phases.seconds  # added up: a --folds run trains several networks
            sec["training steps"] = sec.get("training steps", 0.0) + outcome.train_seconds
            evals = loop - outcome.train_seconds
            sec["evaluations and checkpoints"] = sec.get("evaluations and checkpoints", 0.0) + evals
        except TrainingDiverged as e:
            raise TrainingDiverged(f"{e}{self._kept()}") from None
        finally:
            if self.bar is not None:
                self.bar.close()
        if outcome.stopped == "interrupted":
            where = f"; saved {self.paths.last} (continue with --resume {self.paths.last})" if self.paths else ""
            raise Interrupted(f"interrupted at step {self.state.step}{where}")
        self._keep_best()
        return outcome

    def _grown_base(self) -> Model:
        """The base network with rows for this corpus's new characters and styles; says what was kept and added."""
        base, data = self.base, self.data
        training = {k: getattr(self.cfg, k) for k in REGULARIZERS if k in base.network.config}
        net = base.network.expanded(data.vocab.size, len(data.styles), stream(self.cfg.seed, STREAM_INIT), **training)
        if net.styles and data.encoded.styles is None:  # an unlabelled list: start as the styles it sounds like
            post = base.sounds_like(data.train.names)
            if post is not None:
                net = net.pooled_from(post)
                top = np.argsort(-post)[:3]
                if not base.said:  # once, not once per fold
                    base.said = True
                    self.log("the list sounds most like " + ", ".join(f"{base.ck.styles[i]} {post[i]:.0%}"
                                                                      for i in top)
                             + "; its training starts from that blend of styles")
        new_chars = data.vocab.chars[base.ck.vocab.size:]
        new_styles = data.styles[len(base.ck.styles):]
        self.log(f"fine-tuning {display_name(base.source)} ({base.network.describe()}): kept all of its weights, "
                 f"its {base.ck.vocab.size - 1} characters and {len(base.ck.styles)} styles; added "
                 + (f"{len(new_chars)} characters ({' '.join(new_chars)})" if new_chars else "no characters")
                 + ", " + (f"{len(new_styles)} styles ({', '.join(new_styles)})" if new_styles else "no styles")
                 + ("; the n-gram of the mixture is fitted on this list" if self.cfg.mix_ngram else ""))
        return net

    def _log_styles(self) -> None:
        """The styles of a labelled corpus and their sizes; a warning for the small ones."""
        if not self.data.styles or self.data.train.labels is None:
            return
        counts = self.data.train.style_counts()
        shown = ", ".join(f"{s} {counts.get(s, 0):,}" for s in self.data.styles[:40])
        more = f", … ({len(self.data.styles)} in all)" if len(self.data.styles) > 40 else ""
        self.log(f"styles ({len(self.data.styles)}, training names each): {shown}{more}")
        few = [s for s in self.data.styles if counts.get(s, 0) < FEW_NAMES]
        if few:
            self.log(f"warning: {len(few)} style(s) have fewer than {FEW_NAMES} training names "
                     f"({', '.join(few[:10])}): expect them to lean on the pooled model")

    def _open_metrics(self) -> StagedLog | None:
        if self.paths is None:
            return None
        keep = []
        m = self.paths.metrics
        if self.state.step and m.exists() and runfiles_owner(m).run in (self.run["id"], None):  # resumed: continued
            keep = [json.dumps(r) for r in read_jsonl(m)
                    if isinstance(r.get("step"), int) and r["step"] <= self.state.step]
        return StagedLog(m, keep, header=self.metrics_header)

    def _kept(self) -> str:
        if self.paths is None:
            return ""
        kept = [str(p) for p in (self.paths.best, self.paths.last) if p.exists()]
        return f"; the saved files are untouched ({', '.join(kept)})" if kept else "; nothing was saved"

    def _meta(self, **metrics) -> dict:
        """The metadata of a checkpoint of this run, with the optimizer's state (what --resume needs)."""
        return {**self._run_meta(self.model, self.state, **metrics), "optimizer": self.opt.state_meta()}

    # ----- hooks -------------------------------------------------------------------------------------------
    def checkpoint(self, which: str, state: RunState) -> None:
        if which == "best":
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        if self.paths is not None:
            path = self.paths.best if which == "best" else self.paths.last
            self._save(path, self.model, self._meta(), self.opt.state_arrays(), {"known_hashes": self.hashes},
                       compress=False)  # written at every evaluation
            self._publish_metrics()

    def samples(self, step: int) -> list[str]:
        if not self.cfg.samples:
            return []
        sampler = Sampler(self.model, self.data.vocab)
        opts = SampleOptions(max_len=self.cfg.max_item_len)
        return [s.name for s in sampler.sample(self.cfg.samples, opts, seed=step).samples]

    def log_record(self, rec: dict, line: str) -> None:
        if self.metrics is not None:
            self.metrics.write(rec)
        if self.records is not None:
            self.records.append(rec)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {rec['train_nll']:.4f} {rec['chars_per_s']:,} chars/s")
        else:
            self.log(line)

    def eval_record(self, rec: dict, line: str) -> None:
        if self.metrics is not None:
            self.metrics.write(rec)
        if self.records is not None:
            self.records.append(rec)
        (self.bar.write if self.bar is not None else self.log)(line)

    def after_step(self, state: RunState, seconds: float, tokens: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
        if self.tuner is not None:
            self.tuner.observe(seconds, tokens)

    # ----- after training ---------------------------------------------------------------------------------
    def _keep_best(self) -> None:
        """The best network's weights back in the model (without validation, the final ones stay)."""
        if self.best_params is not None:
            self.model.params.update(self.best_params)
        best = self.state.best_val_nll
        if best is not None and best > math.log(self.data.vocab.size):
            self.log(f"namesmith: warning: the network is worse than uniform guessing on the validation names "
                     f"(NLL {best:.4f} > ln {self.data.vocab.size}): it has over-fitted; try a smaller model, more "
                     "--dropout, fewer steps or --mix-ngram")

    def _finish(self, outcome: Outcome) -> Checkpoint:
        cfg, data = self.cfg, self.data
        final: Model = self.model
        metrics = {}
        if cfg.mix_ngram:
            if self.paths is not None:
                self._save(self.paths.neural, self.model, self._meta(), None, {"known_hashes": self.hashes})
            with self.phases("the n-gram mixture"):
                fixed, note = self.base.ngram(data) if self.base is not None else ([], "")
                final, val = mix_with_ngram(self.model, data, cfg.mix_ngram, cfg.discount, fixed)
            w, order = final.config["weights"], final.parts[1].order
            lowered = "" if order == cfg.mix_ngram else (
                f" (order {cfg.mix_ngram} does not fit 64-bit keys for {data.vocab.size:,} symbols)"
                if order == NGram.max_order(data.vocab.size) else " (no name is long enough for a higher order)")
            self.log(f"mixed with a {order}-gram{lowered}{note}: weights {' / '.join(f'{x:.3f}' for x in w)}, "
                     f"validation NLL {val:.4f} nats/char")
            metrics = {"neural_val_nll": self.state.best_val_nll}
            self.state.best_val_nll = val
        meta = self._run_meta(self.model, self.state, **metrics)
        meta["train"]["stopped"] = outcome.stopped
        run = RunReport(outcome.stopped, self.state.step, outcome.seconds,
                        outcome.chars / max(outcome.train_seconds, 1e-9), self.paths)
        return self._save_final(final, meta, run)

    def _fit_counts(self, cls: type[FittedModel]) -> Checkpoint:
        """Models fitted from counts (n-gram): one pass, no optimizer."""
        t0 = time.perf_counter()
        self._log_styles()
        with self.phases("fitting"):
            model = cls.fit(self.cfg.model_config(self.data.vocab.size, len(self.data.styles)), self.data.encoded,
                            self.data.val_encoded)
        seconds = time.perf_counter() - t0
        val = heldout_nll(model, self.data.val_encoded) if len(self.data.val) else None
        self.log(f"namesmith: fitted {model.describe()} on {len(self.data.train):,} names in {seconds:.2f}s")
        meta = {"run": self.run,
                "train": {"step": 0, "config": self.cfg.to_dict(), "best_val_nll": val, "fit_seconds": seconds,
                          "stopped": "fitted"},
                "rng": {"seed": self.cfg.seed}, "corpus": self.corpus_meta, "metrics": {"val_nll": val}}
        return self._save_final(model, meta, RunReport("fitted", 0, seconds, 0.0, self.paths))


__all__ = ["Checkpoint", "RunReport", "fit", "load", "pretrained_models"]
