"""Several networks, then mixed: ``--folds K``, ``--ensemble N``, and ``namesmith mix`` of finished runs.

``--folds K`` trains K networks, each with its own fold held out, averaged with an
n-gram of all the names, the weights fitted on out-of-fold predictions
(:func:`~namesmith.train.fold_data`, :func:`~namesmith.train.mix_folds`: cross-validation
bagging, the fine-tuning preset). ``--ensemble N`` trains N networks on one split,
network k with seed ``seed + k``, mixed with the n-gram on the validation names
(:func:`~namesmith.train.mix_with_ngram`). The networks train in separate processes,
as many at once as ``--jobs`` (default: one per core; :func:`~namesmith.runtime.run_parallel`);
workers write no files, and the final mixture's n-gram, score quantiles, sample names
and file are the parent's, once. :func:`mix_runs` mixes the networks of finished runs
on one corpus split with a fresh n-gram.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Sequence

import numpy as np

from .checkpoint import CheckpointData, save_checkpoint
from .config import MAX_SEED, SAME_SPLIT, TrainConfig, from_dict
from .errors import ConfigError, Interrupted
from .files import ensure_writable, output_target, refuse_inputs
from .meta import Metrics, RunInfo, RunMeta
from .models import Model
from .models.mixture import Mixture, fit_weights
from .pretrained import load_model_file
from .run import NetworkRun, Phases, Result, Run, RunReport, is_fitted
from .runfiles import check_replace, new_run
from .runtime import run_parallel, usable_cores, worker_log
from .score import RANK_MIN, nll_quantiles
from .train import RunState, TrainData, fold_data, heldout_nll, load_data, mix_folds, mix_with_ngram


@dataclass
class Trained:
    """One network of a --folds/--ensemble run, as its worker left it."""

    model: Model
    steps: int
    seconds: float
    val_nll: float
    records: list[dict]  # its metrics (log and evaluation records)


@dataclass
class Job:
    """What one worker trains: the network's configuration and data, and its label in the log."""

    cfg: TrainConfig
    data: TrainData
    label: str
    base: object = None  # finetune.Base (a fold of a fine-tuned list)


def check_members(cfg: TrainConfig, data: TrainData, ck, base) -> None:
    """What a --folds/--ensemble run cannot do, each a one-line error before any work."""
    flag = "--folds" if cfg.folds > 1 else "--ensemble"
    rules = [(ck is not None, f"a {flag} run cannot be resumed (it saves only its final model); start it again"),
             (is_fitted(cfg), f"{flag} trains networks; --model {cfg.model} is fitted from counts in one pass"),
             (cfg.folds > 1 and cfg.ensemble > 1, "--folds already trains several networks; leave out --ensemble"),
             (cfg.folds > 1 and data.encoded.styles is not None,
              "--folds works on unlabelled lists; train a labelled corpus with --val-fraction"),
             (cfg.folds > 1 and len(data.train) < 2 * cfg.folds,
              f"--folds {cfg.folds} needs at least {2 * cfg.folds} names, got {len(data.train)}"),
             (cfg.ensemble > 1 and base is not None,
              "--ensemble trains networks from scratch; to fine-tune several, use --folds"),
             (cfg.ensemble > 1 and not len(data.val),
              "--ensemble fits its mixture weights on validation names: give --val or a --val-fraction > 0")]
    for bad, message in rules:
        if bad:
            raise ConfigError(message)


def jobs_of(run: Run) -> tuple[list[Job], list[TrainData]]:
    """One job per fold (with the fold splits) or per seed (with no splits)."""
    cfg, data = run.cfg, run.data
    one = replace(cfg, folds=1, ensemble=1, mix_ngram=0, out=None, samples=0)
    if cfg.folds > 1:
        splits = fold_data(data, cfg.folds, cfg.seed)
        base = run.base
        if base is not None and data.encoded.styles is None and base.ck.styles:
            # every fold starts from the styles the whole list sounds like: classified once, here
            post = base.sounds_like(data.train.names)
            base = replace(base, heard={**base.heard, **{tuple(s.train.names): post for s in splits}})
        return [Job(one, split, f"fold {k + 1} of {cfg.folds}", base) for k, split in enumerate(splits)], splits
    return [Job(replace(one, seed=(cfg.seed + k) % (MAX_SEED + 1)), data, f"network {k + 1} of {cfg.ensemble}",
                run.base) for k in range(cfg.ensemble)], []


def train_members(run: Run, ck=None) -> Result:
    """Train the networks of a --folds/--ensemble run (side by side when cores allow), mix them, save."""
    check_members(run.cfg, run.data, ck, run.base)
    jobs, splits = jobs_of(run)
    workers = min(len(jobs), run.cfg.jobs or usable_cores())
    t = time.perf_counter()
    trained = _train(run, jobs, workers)
    best = [x.val_nll for x in trained]
    steps, seconds = sum(x.steps for x in trained), sum(x.seconds for x in trained)
    if workers > 1:  # each network's phases were logged by its worker; here, the wall time
        seconds = run.phases.seconds[f"training {len(jobs)} networks side by side"] = time.perf_counter() - t
    with run.phases("the n-gram mixture"):
        mixture, val, what = _mix(run, [x.model for x in trained], splits)
    run.log(f"{what}: {'out-of-fold' if splits else 'validation'} NLL {val:.4f} nats/char (the networks alone: "
            + " / ".join(f"{b:.4f}" for b in best) + ")")
    meta = run.meta(mixture, RunState(steps, val), neural_val_nll=float(np.mean(best)),
                    member_val_nll=[float(b) for b in best])
    meta.train.stopped = "folds" if splits else "ensemble"
    if run.paths is not None:  # each network's records, marked with its number (namesmith plot draws them all)
        run.open_metrics()
        for k, x in enumerate(trained):
            for rec in x.records:
                run.metrics.write({"member": k + 1, **rec})
    try:
        return run.finish(mixture, meta, RunReport(meta.train.stopped, steps, seconds, 0.0, run.paths))
    finally:
        run.close_metrics()


def _train(run: Run, jobs: list[Job], workers: int) -> list[Trained]:
    """Each job's network, trained in ``workers`` processes side by side, or here one after the other."""
    what = f"{len(jobs)} {'folds' if run.cfg.folds > 1 else 'networks'}"
    if workers > 1:
        run.log(f"namesmith: training {what}, {workers} at a time in separate processes")
        if run.base is not None:  # the list's styles are said once (by the first fold), not once per fold
            jobs = [replace(job, base=replace(job.base, said=job.base.said or k > 0)) for k, job in enumerate(jobs)]
        try:
            return run_parallel(partial(_train_in_worker, tune=run.tune), jobs, workers, run.log)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while training {what}; nothing saved (start the run again)") from None
    out = []
    for job in jobs:
        run.log(f"namesmith: {job.label}: {len(job.data.train):,} names to train on, {len(job.data.val):,} held out")
        out.append(_train_member(job, run.log, run.progress, run.tune, run.phases))
    return out


def _train_member(job: Job, log, progress: bool, tune: bool, phases: Phases) -> Trained:
    """One network of a --folds/--ensemble run, trained here; Ctrl-C says which one it reached."""
    net = NetworkRun(Run(job.cfg, job.data, None, log, phases, job.base, progress, tune), None)
    net.records = []
    try:  # the network alone: the parent mixes the networks, computes score quantiles and saves
        outcome = net.train()
    except Interrupted:
        raise Interrupted(f"interrupted in {job.label}; nothing saved (start the run again)") from None
    finally:
        if net.tuner is not None:
            net.tuner.close()
    return Trained(net.model, net.state.step, outcome.seconds, net.state.best_val_nll, net.records)


def _train_in_worker(job: Job, tune: bool) -> Trained:
    """In a worker process (:func:`~namesmith.runtime.run_parallel`): one network (``tune``: its share of the
    BLAS threads is checked against one thread, as in a single run)."""
    log, phases = worker_log(job.label), Phases()
    trained = _train_member(job, log, False, tune, phases)
    log(phases.line())
    return trained


def _mix(run: Run, nets: list[Model], splits: list[TrainData]) -> tuple[Model, float, str]:
    """The networks mixed (with the n-gram, unless ``--mix-ngram 0``), its held-out NLL, and the log's words."""
    cfg, data, n = run.cfg, run.data, len(nets)
    fixed, note = run.base.ngram(data) if run.base is not None and cfg.mix_ngram else ([], "")
    if splits:
        mixture, val = mix_folds(nets, splits, data, cfg.mix_ngram, cfg.discount, fixed)
    elif cfg.mix_ngram:
        mixture, val = mix_with_ngram(nets, data, cfg.mix_ngram, cfg.discount, fixed)
    else:
        mixture = Mixture.of(nets, fit_weights(nets, data.val_encoded))
        val = heldout_nll(mixture, data.val_encoded)
    w = mixture.config["weights"]
    names = f"all {len(data.train):,} names" if splits else "the training names"
    with_ngram = (f" with a {mixture.parts[n].order}-gram of {names}{note} ({' / '.join(f'{x:.3f}' for x in w[n:])})"
                  if cfg.mix_ngram else "")
    return mixture, val, f"{'averaged' if splits else 'mixed'} {n} networks ({sum(w[:n]):.3f} in all){with_ngram}"


def mix_runs(models: Sequence, out=None, *, order: int = 6, log=print, force: bool = False) -> CheckpointData:
    """An ensemble: the networks of finished runs on one corpus split, interpolated with a Kneser-Ney n-gram.

    Every run must have trained on the same corpus with the same ``--seed`` and
    validation split (so no network saw the validation names); the n-gram is
    counted on the training names and the weights fitted by EM on the validation
    names, as ``--mix-ngram`` does for one network. With ``out`` it is saved.
    """
    if not isinstance(models, (list, tuple)) or not 2 <= len(models) <= 7:
        raise ConfigError("an ensemble needs 2 to 7 trained models")
    if not (isinstance(order, int) and not isinstance(order, bool) and 1 <= order <= 10):
        raise ConfigError(f"the n-gram order must be a whole number in [1, 10], got {order!r}")
    cks = [load_model_file(m) for m in models]
    nets, cfg = _networks_of(models, cks)
    run = new_run()
    if out is not None:  # before any work: an output that is an input, or cannot be written, is refused now
        refuse_inputs([output_target(out)], [("model", os.fspath(m)) for m in models] + [("corpus", cfg.corpus)])
        check_replace(out, run["id"], force=force)
        ensure_writable(output_target(out))
    data = load_data(cfg)
    for spec, ck in zip(models, cks):
        if ck.vocab != data.vocab or ck.meta.corpus.fingerprint != data.train.fingerprint():
            raise ConfigError(f"{spec}: its corpus {cfg.corpus or '(built-in)'} has changed since it was trained")
    if len({n.styles for n in nets}) > 1:
        raise ConfigError("an ensemble needs networks with the same styles")
    final, val = mix_with_ngram(nets, data, order, cfg.discount)
    log(f"namesmith: ensemble of {len(nets)} networks + a {final.parts[-1].order}-gram: weights "
        f"{' / '.join(f'{w:.3f}' for w in final.config['weights'])}, validation NLL {val:.4f} nats/char")
    first = cks[0].meta
    train = replace(first.train, ensemble=[os.fspath(m) for m in models])
    meta = RunMeta(run=RunInfo(**run), train=train, rng=first.rng, corpus=first.corpus, metrics=Metrics(val),
                   styles=first.styles)
    quantiles = nll_quantiles(final, data.encoded) if len(data.train) >= RANK_MIN else None  # as Run.finish
    extras = {"known_hashes": cks[0].extras.get("known_hashes"), "train_nll_quantiles": quantiles}
    extras = {k: v for k, v in extras.items() if v is not None}
    if out is not None:
        save_checkpoint(out, final, data.vocab, meta, None, extras)
    return CheckpointData(final, data.vocab, meta, {}, extras)


def _networks_of(models: Sequence, cks: list[CheckpointData]) -> tuple[list[Model], TrainConfig]:
    """Every network of the runs, and the first run's configuration; runs on another split are refused."""
    nets, configs = [], []
    for spec, ck in zip(models, cks):
        net = [p for p in getattr(ck.model, "parts", [ck.model]) if p.trainable]
        stored = ck.meta.train.config
        if not net or not stored or "recipe" in stored:
            raise ConfigError(f"{spec}: not a network trained by namesmith train (an ensemble mixes their networks)")
        if stored.get("folds", 1) > 1:
            raise ConfigError(f"{spec}: its --folds networks saw every name, and an ensemble's weights are fitted "
                              "on validation names no network saw")
        nets.extend(net)  # every network of the run (an --ensemble run has several)
        configs.append(from_dict(stored))
    for spec, other in zip(models[1:], configs[1:]):
        differ = [k for k in SAME_SPLIT if getattr(other, k) != getattr(configs[0], k)]
        if differ:
            raise ConfigError(f"{spec} was trained on another split than {models[0]} (its {differ[0]} differs); "
                              "an ensemble needs runs with the same corpus, --seed and validation split")
    return nets, configs[0]
