"""One training run: its state as a dataclass (:class:`Run`), one network's loop and its events
(:class:`NetworkRun`), and the run's end (the n-gram mixture, score quantiles, the final file).

:func:`namesmith.api.fit` resolves the configuration and the files and calls
:func:`train_one` (one network), :func:`fit_counts` (an n-gram) or
:func:`namesmith.ensemble.train_members` (``--folds``/``--ensemble``). The loop itself
is :func:`namesmith.train.train`; it reports its events (checkpoints, metrics, log
lines) to the :class:`NetworkRun`, which saves them through the run's files
(:mod:`namesmith.runfiles`): every file records the run's id.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from ._version import __version__
from .checkpoint import CheckpointData, load_checkpoint, save_checkpoint
from .config import FIELDS, RESUME_FIXED, TrainConfig, from_dict
from .corpus import FEW_NAMES, name_hashes
from .errors import CheckpointError, ConfigError, ConstraintError, Interrupted, TrainingDiverged
from .files import StagedLog, read_jsonl, same_file
from .finetune import Base
from .meta import CorpusInfo, Metrics, OptimizerInfo, RngInfo, RunInfo, RunMeta, StylesInfo, TrainInfo
from .models import FittedModel, Model, model_class
from .models.ngram import NGram
from .optim import OPTIMIZERS
from .runfiles import RunFiles, RunPaths, new_run
from .runfiles import owner as file_owner
from .runtime import ThreadTuner
from .sample import SampleOptions, Sampler
from .score import RANK_MIN, nll_quantiles
from .train import STREAM_INIT, Hooks, Outcome, RunState, TrainData, heldout_nll, mix_with_ngram, stream, train

Log = Callable[[str], None]


@dataclass
class RunReport:
    """How a :func:`~namesmith.fit` run went (``Checkpoint.run``)."""

    stopped: str  # steps | time limit | early stopping | fitted | folds | ensemble
    steps: int
    seconds: float
    chars_per_s: float
    paths: RunPaths | None  # None when nothing was written
    samples: list[str] = field(default_factory=list)  # names of the final model, new ones when it can
    samples_novel: bool = False  # whether every one of them is absent from the training list
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
class Result:
    """A finished run: its final model as a checkpoint's data, and its report."""

    data: CheckpointData
    report: RunReport


@dataclass
class Run:
    """One call of :func:`~namesmith.fit`: what it trains on, where its files and log lines go, and how."""

    cfg: TrainConfig
    data: TrainData
    files: RunFiles | None
    log: Log
    phases: Phases
    base: Base | None = None
    progress: bool = False
    tune: bool = False
    metrics: StagedLog | None = None

    @property
    def paths(self) -> RunPaths | None:
        return self.files.paths if self.files is not None else None

    @cached_property
    def run_info(self) -> dict:
        return self.files.run if self.files is not None else new_run()

    @cached_property
    def hashes(self) -> np.ndarray:
        """Hashes of every known name (for novel-only sampling), computed once, by the run that saves."""
        with self.phases("hashing the names"):
            return np.union1d(name_hashes(self.data.train.names), name_hashes(self.data.val.names))

    @property
    def metrics_header(self) -> dict:
        """The first line of the run's metrics log: which run it belongs to."""
        return {"run": self.run_info["id"], "started": self.run_info["started"], "namesmith": __version__}

    def corpus_info(self) -> CorpusInfo:
        d = self.data
        return CorpusInfo(d.source.source, d.source.name, d.train.fingerprint(), len(d.train), d.train.chars,
                          d.val.source, len(d.val), not self.cfg.keep_case, self.list_alphabet)

    @cached_property
    def list_alphabet(self) -> str | None:
        """Fine-tuned on an unlabelled list, the model samples the list's characters only (``any_char`` lifts
        it): the base's alphabet (93 characters for ``world``) would otherwise leak into a fantasy list."""
        if self.base is None or self.data.encoded.styles is not None:
            return None
        used = set().union(*map(set, self.data.train.names), *map(set, self.data.val.names))
        return "".join(sorted(used)) if len(used) < self.data.vocab.size - 1 else None

    def styles_info(self, model: Model) -> StylesInfo | None:
        """The style names and training counts of a conditional model (a fine-tuned one counts its base's too)."""
        if not model.styles:
            return None
        counts = self.data.train.style_counts()
        if self.base is not None:
            for s, n in self.base.ck.style_counts.items():
                counts[s] = counts.get(s, 0) + n
        factors = {c: list(v) for c, v in self.data.factors} if getattr(model, "factors", None) else {}
        seen: dict[str, set[str]] = {}
        if factors:
            columns = [self.data.train.factor(c) for c in factors]
            for i, style in enumerate(self.data.train.labels or ()):
                seen.setdefault(style, set()).add("/".join(col[i] for col in columns))
        return StylesInfo(list(self.data.styles), [counts.get(s, 0) for s in self.data.styles], factors,
                          {s: sorted(v) for s, v in seen.items()})

    def meta(self, model: Model, state: RunState, optimizer: dict | None = None, **metrics) -> RunMeta:
        """The metadata of a checkpoint of this run (one constructor for every file it writes)."""
        epoch = state.step / max(1, math.ceil(len(self.data.train) / self.cfg.batch_size))
        return RunMeta(run=RunInfo(**self.run_info),
                       train=TrainInfo(self.cfg.to_dict(), state.step, epoch, state.best_val_nll,
                                       state.evals_since_best, list(state.window)),
                       optimizer=OptimizerInfo(**optimizer) if optimizer else None,
                       rng=RngInfo(self.cfg.seed, "SeedSequence(seed, spawn_key=(stream, epoch|step))"),
                       corpus=self.corpus_info(), metrics=Metrics(state.best_val_nll, **metrics),
                       styles=self.styles_info(model))

    def save(self, path: Path, model: Model, meta: RunMeta, optim=None, extras=None, compress: bool = True) -> None:
        """Save one of the run's files and note it (the first save sweeps other runs' files: runfiles)."""
        save_checkpoint(path, model, self.data.vocab, meta, optim, extras, compress=compress)
        self.files.wrote(path)

    def open_metrics(self, keep: list[str] = ()) -> None:
        if self.paths is not None:
            self.metrics = StagedLog(self.paths.metrics, keep, header=self.metrics_header)

    def publish_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.publish()
            self.files.wrote(self.paths.metrics)

    def close_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.close()

    def finish(self, model: Model, meta: RunMeta, report: RunReport) -> Result:
        """Score quantiles, the final file (the metrics published, stale files swept), sample names."""
        hashes = self.hashes  # (its own phase, before the next)
        extras = {"known_hashes": hashes}
        if len(self.data.train) >= RANK_MIN:  # a smaller list ranks nothing (Checkpoint.ranks): not computed
            with self.phases("score quantiles"):
                extras["train_nll_quantiles"] = nll_quantiles(model, self.data.encoded)
        if self.paths is not None:
            with self.phases("saving"):
                self.save(self.paths.best, model, meta, None, extras)
            self.publish_metrics()
            self.files.finish()
        with self.phases("sample names"):
            report.samples, report.samples_novel = final_names(Sampler(model, self.data.vocab, known_hashes=hashes,
                                                                       alphabet=self.list_alphabet),
                                                               self.cfg)
        report.phases = dict(self.phases.seconds)
        self.log(self.phases.line())
        if self.metrics is not None:
            self.metrics.write({"step": report.steps, "phases": report.phases})
        return Result(CheckpointData(model, self.data.vocab, meta, {}, extras), report)

    def log_styles(self) -> None:
        """The styles of a labelled corpus and their sizes; a warning for the small ones."""
        if not self.data.styles or self.data.train.labels is None:
            return
        counts = self.data.train.style_counts()
        shown = ", ".join(f"{s} {counts.get(s, 0):,}" for s in self.data.styles[:40])
        more = f", … ({len(self.data.styles)} in all)" if len(self.data.styles) > 40 else ""
        self.log(f"styles ({len(self.data.styles)}, training names each): {shown}{more}")
        for column, values in self.data.factors:
            given = Counter(self.data.train.factor(column))
            self.log(f"factor {column}: " + ", ".join(f"{v} {given[v]:,}" for v in values)
                     + (f", blank {given['']:,} (any)" if given[""] else ""))
        few = [s for s in self.data.styles if counts.get(s, 0) < FEW_NAMES]
        if few:
            self.log(f"warning: {len(few)} style(s) have fewer than {FEW_NAMES} training names "
                     f"({', '.join(few[:10])}): expect them to lean on the pooled model")


def final_names(sampler: Sampler, cfg: TrainConfig, n: int = 10) -> tuple[list[str], bool]:
    """Ten names of the final model, new ones (absent from the training list) when the model can make them."""
    opts = dict(n=n, seed=cfg.seed, max_len=cfg.max_item_len, max_tries=50 * n + 200)
    try:
        return [s.name for s in sampler.sample(SampleOptions(**opts, novel=True))], True
    except ConstraintError:  # a tiny or over-fitted list: few new names to be had
        return [s.name for s in sampler.sample(SampleOptions(**opts))], False


class NetworkRun(Hooks):
    """One network's training loop: the model, its optimizer and loop state, and where the loop's events go."""

    def __init__(self, run: Run, ck: CheckpointData | None):
        self.run, self.cfg, self.data = run, run.cfg, run.data
        self.best_params: dict[str, np.ndarray] | None = None
        self.records: list[dict] | None = None  # a --folds/--ensemble network: its metrics, kept for the parent
        self.model, self.state = self._model_and_state(ck)
        self.opt = OPTIMIZERS[self.cfg.optimizer].from_config(self.cfg).average(self.cfg.ema)
        self.opt.bind(self.model.params)  # one flat buffer: a few large update operations per step
        if ck is not None:
            try:
                self.opt.load_state(ck.meta.optimizer.__dict__, ck.optim, self.model.params)
            except (ConfigError, AttributeError) as e:
                raise CheckpointError(f"the checkpoint's optimizer state does not fit: {e}") from None
        self.tuner = ThreadTuner() if run.tune else None
        if run.progress:
            from tqdm.auto import tqdm  # here, not at import: sample and score never load it (and asyncio)
        self.bar = (tqdm(total=None, initial=self.state.step, unit="step", dynamic_ncols=True, file=sys.stderr,
                         leave=False) if run.progress else None)

    def _model_and_state(self, ck: CheckpointData | None) -> tuple[Model, RunState]:
        cfg, data = self.cfg, self.data
        if ck is None and self.run.base is not None:
            return self.run.base.grown(cfg, data, self.run.log), RunState()
        if ck is None:
            config = cfg.model_config(data.vocab.size, len(data.styles), data.factor_sizes)
            return model_class(cfg.model).create(config, stream(cfg.seed, STREAM_INIT)), RunState()
        if ck.meta.corpus.fingerprint != data.train.fingerprint():
            raise ConfigError(f"the checkpoint was trained on different data than "
                              f"{cfg.corpus or 'the default corpus'}; resume with the same corpus")
        if ck.vocab != data.vocab:
            raise ConfigError("the checkpoint has a different vocabulary than this corpus")
        t = ck.meta.train
        return ck.model, RunState(t.step, t.best_val_nll, t.evals_since_best, list(t.window))

    def train(self) -> Outcome:
        """The training loop, with its log, progress bar and metrics; ends with the best network's weights in
        ``self.model``. All that a --folds/--ensemble network needs; a whole run goes on to :func:`mixed`."""
        if self.cfg.mix_ngram and not len(self.data.val):
            raise ConfigError("--mix-ngram fits its weights on validation names: give --val or a --val-fraction > 0")
        self.run.log(f"namesmith: training {self.model.describe()} on {len(self.data.train):,} names "
                     f"({self.data.train.source}), validating on {len(self.data.val):,}; "
                     f"alphabet {self.data.vocab.describe()}")
        self.run.log_styles()
        self.run.log("configuration: " + json.dumps(self.cfg.to_dict(), sort_keys=True))
        self.run.open_metrics(self._kept_metrics())
        try:
            with self.run.phases("training"):
                outcome = train(self.model, self.data, self.cfg, self.opt, self.state, self)
            loop, sec = self.run.phases.seconds.pop("training"), self.run.phases.seconds
            sec["training steps"] = sec.get("training steps", 0.0) + outcome.train_seconds
            sec["evaluations and checkpoints"] = sec.get("evaluations and checkpoints", 0.0) + (
                loop - outcome.train_seconds)
        except TrainingDiverged as e:
            raise TrainingDiverged(f"{e}{self._kept()}") from None
        finally:
            if self.bar is not None:
                self.bar.close()
        if outcome.stopped == "interrupted":
            paths = self.run.paths
            where = f"; saved {paths.last} (continue with --resume {paths.last})" if paths else ""
            raise Interrupted(f"interrupted at step {self.state.step}{where}")
        self._keep_best()
        return outcome

    def _kept_metrics(self) -> list[str]:
        """The lines of the run's metrics log a resumed run continues (none of another run's)."""
        m = self.run.paths.metrics if self.run.paths is not None else None
        if not self.state.step or m is None or not m.exists() or file_owner(m).run not in (self.run.run_info["id"],
                                                                                             None):
            return []
        return [json.dumps(r) for r in read_jsonl(m) if isinstance(r.get("step"), int) and r["step"] <= self.state.step]

    def _kept(self) -> str:
        paths = self.run.paths
        if paths is None:
            return ""
        kept = [str(p) for p in (paths.best, paths.last) if p.exists()]
        return f"; the saved files are untouched ({', '.join(kept)})" if kept else "; nothing was saved"

    def meta(self, **metrics) -> RunMeta:
        """The metadata of a checkpoint of this network, with the optimizer's state (what --resume needs)."""
        return self.run.meta(self.model, self.state, self.opt.state_meta(), **metrics)

    def _keep_best(self) -> None:
        """The best network's weights back in the model (without validation, the final ones stay)."""
        if self.best_params is not None:
            self.model.params.update(self.best_params)
        best = self.state.best_val_nll
        if best is not None and best > math.log(self.data.vocab.size):
            self.run.log(f"namesmith: warning: the network is worse than uniform guessing on the validation names "
                         f"(NLL {best:.4f} > ln {self.data.vocab.size}): it has over-fitted; try a smaller model, "
                         "more --dropout, fewer steps or --mix-ngram")

    # ----- the loop's events (train.Hooks) -----------------------------------------------------------------
    def checkpoint(self, which: str, state: RunState) -> None:
        if which == "best":
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        paths = self.run.paths
        if paths is not None:
            self.run.save(paths.best if which == "best" else paths.last, self.model, self.meta(),
                          self.opt.state_arrays(), {"known_hashes": self.run.hashes},
                          compress=False)  # written at every evaluation
            self.run.publish_metrics()

    def samples(self, step: int) -> list[str]:
        if not self.cfg.samples:
            return []
        opts = SampleOptions(n=self.cfg.samples, max_len=self.cfg.max_item_len, seed=step)
        return [s.name for s in Sampler(self.model, self.data.vocab, alphabet=self.run.list_alphabet).sample(opts)]

    def log_record(self, rec: dict, line: str) -> None:
        self._record(rec)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {rec['train_nll']:.4f} {rec['chars_per_s']:,} chars/s")
        else:
            self.run.log(line)

    def eval_record(self, rec: dict, line: str) -> None:
        self._record(rec)
        (self.bar.write if self.bar is not None else self.run.log)(line)

    def _record(self, rec: dict) -> None:
        if self.run.metrics is not None:
            self.run.metrics.write(rec)
        if self.records is not None:
            self.records.append(rec)

    def after_step(self, state: RunState, seconds: float, tokens: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
        if self.tuner is not None:
            self.tuner.observe(seconds, tokens)


def train_one(run: Run, ck: CheckpointData | None) -> Result:
    """One network trained (or resumed), then mixed with its n-gram and saved."""
    net = NetworkRun(run, ck)
    run.hashes  # noqa: B018  (hashed now, in a phase of its own, not inside the loop's first checkpoint)
    try:  # the tuner's last choice of BLAS threads also serves the mixture fit and the score quantiles
        return mixed(net, net.train())
    finally:
        run.close_metrics()
        if net.tuner is not None:
            net.tuner.close()


def mixed(net: NetworkRun, outcome: Outcome) -> Result:
    """The trained network with its n-gram (``--mix-ngram``; a fine-tuned list adds the base's), saved."""
    run, cfg, data = net.run, net.cfg, net.data
    final: Model = net.model
    metrics = {}
    if cfg.mix_ngram:
        if run.paths is not None:
            run.save(run.paths.neural, net.model, net.meta(), None, {"known_hashes": run.hashes})
        with run.phases("the n-gram mixture"):
            fixed, note = run.base.ngram(data) if run.base is not None else ([], "")
            final, val = mix_with_ngram(net.model, data, cfg.mix_ngram, cfg.discount, fixed)
        w, order = final.config["weights"], final.parts[1].order
        lowered = "" if order == cfg.mix_ngram else (
            f" (order {cfg.mix_ngram} does not fit 64-bit keys for {data.vocab.size:,} symbols)"
            if order == NGram.max_order(data.vocab.size) else " (no name is long enough for a higher order)")
        run.log(f"mixed with a {order}-gram{lowered}{note}: weights {' / '.join(f'{x:.3f}' for x in w)}, "
                f"validation NLL {val:.4f} nats/char")
        metrics = {"neural_val_nll": net.state.best_val_nll}
        net.state.best_val_nll = val
    meta = run.meta(net.model, net.state, **metrics)
    meta.train.stopped = outcome.stopped
    report = RunReport(outcome.stopped, net.state.step, outcome.seconds,
                       outcome.chars / max(outcome.train_seconds, 1e-9), run.paths)
    return run.finish(final, meta, report)


def fit_counts(run: Run) -> Result:
    """Models fitted from counts (the n-gram): one pass, no optimizer."""
    cfg, data = run.cfg, run.data
    t0 = time.perf_counter()
    run.log_styles()
    with run.phases("fitting"):
        model = model_class(cfg.model).fit(cfg.model_config(data.vocab.size, len(data.styles)), data.encoded,
                                           data.val_encoded)
    seconds = time.perf_counter() - t0
    val = heldout_nll(model, data.val_encoded) if len(data.val) else None
    run.log(f"namesmith: fitted {model.describe()} on {len(data.train):,} names in {seconds:.2f}s")
    meta = run.meta(model, RunState(best_val_nll=val))
    meta.train.fit_seconds, meta.train.stopped = seconds, "fitted"
    return run.finish(model, meta, RunReport("fitted", 0, seconds, 0.0, run.paths))


def is_fitted(cfg: TrainConfig) -> bool:
    return issubclass(model_class(cfg.model), FittedModel)


def resume_config(resume, overrides: dict, log: Log) -> tuple[TrainConfig, CheckpointData, Path]:
    """The run's stored configuration with the allowed overrides, its checkpoint and that file (see --resume)."""
    if not isinstance(resume, (str, os.PathLike)) or not os.fspath(resume):
        raise ConfigError("--resume needs the checkpoint of a run (MODEL.npz or MODEL.last.npz); got an empty path")
    path = Path(os.fspath(resume))
    last = RunPaths.of_any(path).last
    ck = load_checkpoint(path)
    if ck.meta.optimizer is None and last.exists() and not same_file(path, last):
        mine, theirs = (ck.meta.run.id if ck.meta.run else None), file_owner(last)
        if theirs is None or not theirs.ours or theirs.run != mine:
            raise CheckpointError(f"{last} belongs to another run than {path}, so it cannot continue it; "
                                  f"resume from {last} itself if that is the run you mean")
        log(f"namesmith: {path} is the run's finished model; resuming from its last state {last}")
        path, ck = last, load_checkpoint(last)
    t = ck.meta.train
    if t.recipe or "recipe" in t.config or not t.config:
        raise CheckpointError(f"{path}: has no training state to resume from (a seed-recipe or fitted model)")
    if not ck.model.trainable or ck.meta.optimizer is None:
        raise CheckpointError(f"{path}: is a finished model ({ck.model.kind}) without optimizer state; "
                              f"resume from the run's last checkpoint ({last}) instead")
    try:
        base = from_dict({k: v for k, v in t.config.items() if k in FIELDS})
    except ConfigError as e:
        raise CheckpointError(f"{path}: its stored configuration is invalid: {e}") from None
    changed = sorted(k for k in set(overrides) & RESUME_FIXED if overrides[k] != getattr(base, k))
    if changed:
        raise ConfigError(f"cannot change {', '.join('--' + k.replace('_', '-') for k in changed)} "
                          "when resuming; start a new run instead")
    # the run continues beside the checkpoint it resumes (a moved folder stays whole), unless -o says otherwise
    here = {"out": str(RunPaths.of_any(path).best)} if "out" not in overrides else {}
    return from_dict({**base.to_dict(), **here, **overrides}), ck, path
