"""The training loop: model-agnostic, reproducible, resumable bit for bit.

``train(cfg)`` reads the corpus, splits it (or reads ``cfg.val``), builds the
vocabulary and the model from the registry, and runs mini-batch training:
forward, backward, clipping, optimizer step. Every ``eval_every`` steps it
measures the held-out NLL (nats/char, end token included), keeps the best
checkpoint at ``cfg.out`` and the latest at ``<out>.last.npz``, writes metrics
to ``<out>.metrics.jsonl`` and prints a few sample names.

Randomness is derived statelessly from ``cfg.seed`` with
``SeedSequence(seed, spawn_key=...)``: the split, the initial weights, the batch
order of epoch ``e`` and the dropout masks of step ``s`` each have their own
stream. A checkpoint therefore only needs the parameters, the optimizer state
and the step count to continue exactly where it stopped.

Stopping: ``steps`` (total across resumes), ``epochs``, ``time_limit`` (seconds
of this invocation), early stopping after ``patience`` evaluations without
improvement, or Ctrl-C (the current step finishes, ``last`` is saved, exit 130).
A non-finite loss or gradient stops the run with :class:`TrainingDiverged`
(exit 1) and never touches the saved checkpoints.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .batch import Batch, batch_order, make_batch
from .checkpoint import Checkpoint, atomic_write, load_checkpoint, save_checkpoint
from .config import FIELDS, RESUME_FIXED, TrainConfig
from .corpus import Corpus, load_corpus, name_hashes, read_corpus
from .errors import CheckpointError, ConfigError, NamesmithError, TrainingDiverged
from .memory import keep_freed_memory
from .models import Model, model_class
from .optim import clip_by_global_norm, clip_by_value, lr_at, make_optimizer
from .sample import SampleOptions, Sampler
from .score import evaluate, nll_quantiles
from .vocab import Vocab

# spawn keys of the independent random streams derived from cfg.seed
STREAM_SPLIT, STREAM_INIT, STREAM_DATA, STREAM_DROPOUT, STREAM_SAMPLES = range(5)


class Interrupted(NamesmithError):
    """Ctrl-C during training: the state was saved; exit 130 like any interrupted command."""

    exit_code = 130


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def paths_for(out: str | Path) -> dict[str, Path]:
    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".npz" else out
    return {
        "best": out,
        "last": stem.with_name(stem.name + ".last.npz"),
        "neural": stem.with_name(stem.name + ".neural.npz"),
        "metrics": stem.with_name(stem.name + ".metrics.jsonl"),
    }


@dataclass
class Data:
    train: Corpus
    val: Corpus
    vocab: Vocab
    encoded: list[np.ndarray]
    lengths: np.ndarray


def load_data(cfg: TrainConfig) -> Data:
    lowercase = not cfg.keep_case
    corpus = load_corpus(cfg.corpus, lowercase=lowercase, max_len=cfg.max_item_len)
    if cfg.val:
        train, val = corpus, read_corpus(cfg.val, lowercase=lowercase, max_len=cfg.max_item_len)
    elif cfg.val_fraction > 0 and len(corpus) >= 2:
        train, val = corpus.split(cfg.val_fraction, np.random.SeedSequence(cfg.seed, spawn_key=(STREAM_SPLIT,)))
    else:
        train, val = corpus, Corpus((), "none")
    # the validation names' characters join the vocabulary, so their NLL is always defined
    vocab = Vocab.from_names(train.names + val.names)
    encoded = [vocab.encode(n) for n in train.names]
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    return Data(train, val, vocab, encoded, lengths)


def model_config(cfg: TrainConfig, vocab_size: int, cls: type[Model]) -> dict:
    values = cfg.to_dict()
    config = {k: values[k] for k in cls.defaults if k in values}
    config.update(vocab_size=vocab_size, dtype=cfg.dtype)
    return config


def make_opt(cfg: TrainConfig):
    name = cfg.optimizer
    if name == "sgd":
        return make_optimizer("sgd", weight_decay=cfg.weight_decay)
    if name == "momentum":
        return make_optimizer("momentum", momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if name == "adagrad":
        return make_optimizer("adagrad", eps=cfg.eps)
    if name in ("adam", "adamw"):
        return make_optimizer(name, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)
    return make_optimizer(name)  # raises the unknown-optimizer error


@dataclass
class Result:
    model: Model
    vocab: Vocab
    step: int
    best_val_nll: float | None
    stopped: str
    paths: dict[str, Path]
    seconds: float
    train_chars_per_s: float
    samples: list[str] = field(default_factory=list)


class _StopFlag:
    """First Ctrl-C asks the loop to stop after the current step; a second one aborts."""

    def __init__(self):
        self.set = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def train(
    cfg: TrainConfig,
    *,
    resume: str | Path | None = None,
    cli_overrides: set[str] | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> Result:
    """Train a model according to ``cfg`` (see module docstring). ``log`` receives status lines."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    keep_freed_memory()
    ckpt: Checkpoint | None = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        stored = ckpt.meta.get("train", {}).get("config")
        if not isinstance(stored, dict) or "recipe" in stored:
            raise CheckpointError(f"{resume}: has no training state to resume from (a seed-recipe or fitted model)")
        if not ckpt.model.trainable or "optimizer" not in ckpt.meta:
            last = paths_for(stored.get("out", resume))["last"]
            raise CheckpointError(f"{resume}: is a finished model ({ckpt.model.kind}) without optimizer state; "
                                  f"resume from the run's last checkpoint ({last}) instead")
        stored = {k: v for k, v in stored.items() if k in FIELDS}
        changed = sorted(k for k in (cli_overrides or set()) & RESUME_FIXED
                         if getattr(cfg, k) != stored.get(k))
        if changed:
            raise ConfigError(f"cannot change {', '.join('--' + k.replace('_', '-') for k in changed)} "
                              "when resuming; start a new run instead")
        keep = {k: getattr(cfg, k) for k in (cli_overrides or set())}
        cfg = TrainConfig(**{**stored, **keep}).validate()

    data = load_data(cfg)
    cls = model_class(cfg.model)
    paths = paths_for(cfg.out)
    corpus_meta = {
        "source": data.train.source,
        "fingerprint": data.train.fingerprint(),
        "names": len(data.train),
        "chars": data.train.chars,
        "val_source": data.val.source,
        "val_names": len(data.val),
        "lowercase": not cfg.keep_case,
    }
    if ckpt is not None:
        if ckpt.meta.get("corpus", {}).get("fingerprint") != corpus_meta["fingerprint"]:
            raise ConfigError(f"{resume} was trained on different data than {cfg.corpus or 'the default corpus'}; "
                              "resume with the same corpus")
        if ckpt.vocab != data.vocab:
            raise ConfigError(f"{resume} has a different vocabulary than this corpus")
        model = ckpt.model
    else:
        config = model_config(cfg, data.vocab.size, cls)
        if not cls.trainable:
            return _fit_count_model(cfg, cls, config, data, paths, corpus_meta, log)
        model = cls.create(config, stream(cfg.seed, STREAM_INIT))

    log(f"namesmith: training {model.describe()} on {len(data.train):,} names "
        f"({data.train.source}), validating on {len(data.val):,}; vocabulary {data.vocab.describe()}")
    log("configuration: " + json.dumps(cfg.to_dict(), sort_keys=True))

    opt = make_opt(cfg)
    opt.bind(model.params)  # one flat buffer: a few large update operations per step
    train_meta = ckpt.meta.get("train", {}) if ckpt else {}
    start_step = int(train_meta.get("step", 0))
    if ckpt is not None:
        try:
            opt.load_state(ckpt.meta.get("optimizer", {}), ckpt.optim, model.params)
        except ConfigError as e:
            raise CheckpointError(f"{resume}: {e}") from None
    best_val = train_meta.get("best_val_nll")
    since_best = int(train_meta.get("evals_since_best", 0))
    window = list(train_meta.get("window", [0.0, 0, 0]))  # [sum of NLL, tokens, steps] since last log

    if cfg.mix_ngram and not len(data.val):
        raise ConfigError("--mix-ngram fits its weights on validation names: give --val or a --val-fraction > 0")
    B = cfg.batch_size
    nb = math.ceil(len(data.train) / B)  # batches per epoch
    budgets = [b for b in (cfg.steps, math.ceil(cfg.epochs * nb) if cfg.epochs else None) if b is not None]
    total_steps = min(budgets) if budgets else None
    if total_steps is None and cfg.time_limit is None:
        raise ConfigError("say when to stop: --steps, --epochs or --time-limit")

    _rewrite_metrics(paths["metrics"], start_step)
    metrics_f = open(paths["metrics"], "a", encoding="utf-8")
    hashes = name_hashes(data.train.names)
    sampler_opts = SampleOptions(max_len=max(cfg.max_item_len, 1))

    def meta(step: int, **more) -> dict:
        return {
            "train": {"step": step, "epoch": step / nb, "config": cfg.to_dict(), "best_val_nll": best_val,
                      "evals_since_best": since_best, "window": window, **more},
            "optimizer": opt.state_meta(),
            "rng": {"seed": cfg.seed, "scheme": "SeedSequence(seed, spawn_key=(stream, epoch|step))"},
            "corpus": corpus_meta,
            "metrics": {"val_nll": best_val},
        }

    def save(path: Path, step: int, extras: dict | None = None) -> None:
        save_checkpoint(path, model, data.vocab, meta(step), opt.state_arrays(),
                        {"train_hashes": hashes, **(extras or {})})

    def record(obj: dict) -> None:
        metrics_f.write(json.dumps(obj) + "\n")
        metrics_f.flush()

    # Each batch's summed NLL is divided by its expected number of predicted symbols (names x the
    # corpus mean), not its actual count: with length buckets a batch of short names would otherwise
    # weigh each of its symbols more than a batch of long names, biasing the per-character objective.
    mean_tokens = float(data.lengths.mean()) + 1.0
    epoch_cache: dict[int, list[Batch]] = {}

    def batches(epoch: int) -> list[Batch]:
        if epoch not in epoch_cache:
            epoch_cache.clear()
            order = batch_order(data.lengths, B, stream(cfg.seed, STREAM_DATA, epoch), bucket=cfg.bucket)
            epoch_cache[epoch] = [
                make_batch([data.encoded[i] for i in idx], dtype=model.dtype,
                           norm=len(idx) * mean_tokens if cfg.norm == "mean" else "tokens")
                for idx in order
            ]
        return epoch_cache[epoch]

    def lr_for(step: int, elapsed: float) -> float:
        frac = None
        horizon = cfg.decay_steps or total_steps
        if horizon is None and cfg.time_limit:
            frac = min(1.0, elapsed / cfg.time_limit)
        return lr_at(step, cfg.lr, schedule=cfg.schedule, total_steps=horizon, warmup=cfg.warmup,
                     decay_every=cfg.decay_every, gamma=cfg.gamma, min_lr=cfg.min_lr, frac=frac)

    def validate() -> float | None:
        if not len(data.val):
            return None
        nll = evaluate(model, data.vocab, data.val.names)["nll"]
        if not math.isfinite(nll):
            raise TrainingDiverged(_diverged_msg("validation NLL", step, lr_for(step, 0.0), paths))
        return nll

    def show_samples(step: int) -> list[str]:
        if not cfg.samples:
            return []
        sampler = Sampler(model, data.vocab)
        return [s.name for s in sampler.sample(cfg.samples, sampler_opts, seed=step).samples]

    bar = None
    interactive = sys.stderr.isatty() if progress is None else progress
    if interactive:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                   file=sys.stderr, disable=None, leave=False)
    step = start_step
    stopped = "steps"
    t_start = time.perf_counter()
    train_time = 0.0
    chars_done = 0
    last_val = best_val
    log_time, log_chars = 0.0, 0
    try:
        with _StopFlag() as stop:
            while True:
                elapsed = time.perf_counter() - t_start
                if total_steps is not None and step >= total_steps:
                    stopped = "steps"
                    break
                if cfg.time_limit is not None and elapsed >= cfg.time_limit:
                    stopped = "time limit"
                    break
                if stop.set:
                    stopped = "interrupted"
                    break
                t0 = time.perf_counter()
                epoch, i = divmod(step, nb)
                batch = batches(epoch)[i]
                lr = lr_for(step, elapsed)
                rng = stream(cfg.seed, STREAM_DROPOUT, step) if getattr(model, "config", {}).get("dropout") else None
                with np.errstate(all="ignore"):  # overflow is detected below, not warned about
                    loss, cache = model.forward(batch, train=True, rng=rng)
                    grads = model.backward(cache) if np.isfinite(loss) else None
                if not np.isfinite(loss):
                    raise TrainingDiverged(_diverged_msg("loss", step + 1, lr, paths))
                if cfg.clip == "norm":
                    norm = clip_by_global_norm(grads, cfg.clip_value)
                    if not math.isfinite(norm):
                        raise TrainingDiverged(_diverged_msg("gradient", step + 1, lr, paths))
                else:
                    if not all(np.isfinite(g).all() for g in grads.values()):
                        raise TrainingDiverged(_diverged_msg("gradient", step + 1, lr, paths))
                    if cfg.clip == "value":
                        clip_by_value(grads, cfg.clip_value)
                opt.step(model.params, grads, lr)
                step += 1
                tokens = batch.tokens
                window[0] += float(loss) * batch.norm
                window[1] += tokens
                window[2] += 1
                chars_done += tokens
                log_chars += tokens
                dt = time.perf_counter() - t0
                train_time += dt
                log_time += dt
                if bar is not None:
                    bar.update(1)
                if step % cfg.log_every == 0:
                    now = time.perf_counter()
                    cps = log_chars / max(log_time, 1e-9)  # training time only, evaluations excluded
                    rec = {"step": step, "epoch": round(step / nb, 4), "train_nll": window[0] / window[1],
                           "lr": lr, "chars_per_s": round(cps), "elapsed": round(now - t_start, 3),
                           "train_seconds": round(train_time, 3)}
                    record(rec)
                    window = [0.0, 0, 0]
                    log_time, log_chars = 0.0, 0
                    eta = _eta(step, total_steps, now - t_start, start_step, cfg.time_limit)
                    if bar is not None:
                        bar.set_postfix_str(f"loss {rec['train_nll']:.4f} val {_f(last_val)} {cps:,.0f} chars/s")
                    else:
                        log(f"step {step}{'/' + str(total_steps) if total_steps else ''} | epoch {step / nb:.2f} | "
                            f"loss {rec['train_nll']:.4f} | val {_f(last_val)} | {cps:,.0f} chars/s | "
                            f"eta {eta}")
                if step % cfg.eval_every == 0:
                    last_val = validate()
                    improved = last_val is not None and (best_val is None or last_val < best_val)
                    if improved:
                        best_val, since_best = last_val, 0
                        save(paths["best"], step)
                    elif last_val is not None:
                        since_best += 1
                    names = show_samples(step)
                    record({"step": step, "val_nll": last_val, "best_val_nll": best_val, "samples": names,
                            "train_seconds": round(train_time, 3)})
                    msg = (f"eval step {step}: val {_f(last_val)} nats/char "
                           f"({_f(last_val and last_val / math.log(2))} bits/char), best {_f(best_val)}"
                           f"{' *' if improved else ''} | " + ", ".join(names))
                    (bar.write if bar is not None else log)(msg)
                    save(paths["last"], step)
                    if cfg.patience and since_best >= cfg.patience:
                        stopped = "early stopping"
                        break
    except TrainingDiverged:
        metrics_f.close()
        if bar is not None:
            bar.close()
        raise
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t_start
    # final evaluation and checkpoints
    if step % cfg.eval_every != 0 or step == start_step:
        last_val = validate()
        if last_val is not None and (best_val is None or last_val < best_val):
            best_val, since_best = last_val, 0
            save(paths["best"], step)
        record({"step": step, "val_nll": last_val, "best_val_nll": best_val})
    save(paths["last"], step)
    metrics_f.close()
    if stopped == "interrupted":
        raise Interrupted(f"interrupted at step {step}; saved {paths['last']} "
                          f"(continue with --resume {paths['last']})")
    if best_val is None or not paths["best"].exists():  # no validation split: the final model is the best
        save(paths["best"], step)
    best = load_checkpoint(paths["best"])
    final_model, final_meta, final_optim = best.model, best.meta, best.optim
    if cfg.mix_ngram:
        final_model, best_val = _mix_with_ngram(cfg, best.model, data, log)
        save_checkpoint(paths["neural"], best.model, data.vocab, best.meta, best.optim, {"train_hashes": hashes})
        final_meta = {**best.meta, "metrics": {"val_nll": best_val,
                                               "neural_val_nll": best.meta.get("metrics", {}).get("val_nll")}}
        final_optim = None
    extras = {"train_hashes": hashes,
              "train_nll_quantiles": nll_quantiles(final_model, data.vocab, data.train.names)}
    save_checkpoint(paths["best"], final_model, data.vocab, final_meta, final_optim, extras)
    samples = [s.name for s in Sampler(final_model, data.vocab).sample(10, sampler_opts, seed=cfg.seed).samples]
    return Result(final_model, data.vocab, step, best_val, stopped, paths, seconds,
                  chars_done / max(train_time, 1e-9), samples)


def _mix_with_ngram(cfg: TrainConfig, neural: Model, data: Data, log) -> tuple[Model, float]:
    """Interpolate ``neural`` with a Kneser-Ney n-gram fitted on the training names.

    The weights are fitted on the validation names (never on the data either
    model was trained on). Returns the mixture and its validation NLL.
    """
    from .models.mixture import Mixture, fit_weights
    from .models.ngram import NGram

    ngram = NGram.fit({"vocab_size": data.vocab.size, "order": cfg.mix_ngram, "discount": cfg.discount},
                      data.encoded)
    weights = fit_weights([neural, ngram], data.vocab, data.val.names)
    mixture = Mixture.of([neural, ngram], weights)
    val = evaluate(mixture, data.vocab, data.val.names)["nll"]
    log(f"mixed with a {cfg.mix_ngram}-gram: weights {weights[0]:.3f} / {weights[1]:.3f}, "
        f"validation NLL {val:.4f} nats/char")
    return mixture, val


def _fit_count_model(cfg, cls, config, data: Data, paths, corpus_meta, log) -> Result:
    """Models fitted from counts (n-gram): one pass, no optimizer."""
    t0 = time.perf_counter()
    model = cls.fit(config, data.encoded)
    seconds = time.perf_counter() - t0
    val = evaluate(model, data.vocab, data.val.names)["nll"] if len(data.val) else None
    log(f"namesmith: fitted {model.describe()} on {len(data.train):,} names in {seconds:.2f}s")
    meta = {
        "train": {"step": 0, "config": cfg.to_dict(), "best_val_nll": val, "fit_seconds": seconds},
        "rng": {"seed": cfg.seed},
        "corpus": corpus_meta,
        "metrics": {"val_nll": val},
    }
    extras = {"train_hashes": name_hashes(data.train.names),
              "train_nll_quantiles": nll_quantiles(model, data.vocab, data.train.names)}
    save_checkpoint(paths["best"], model, data.vocab, meta, None, extras)
    samples = [s.name for s in Sampler(model, data.vocab).sample(10, SampleOptions(max_len=cfg.max_item_len),
                                                                   seed=cfg.seed).samples]
    return Result(model, data.vocab, 0, val, "fitted", paths, seconds, 0.0, samples)


def _f(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def _eta(step, total, elapsed, start_step, time_limit) -> str:
    left = []
    done = step - start_step
    if total is not None and done > 0:
        left.append(elapsed / done * (total - step))
    if time_limit is not None:
        left.append(time_limit - elapsed)
    return _fmt_time(min(left)) if left else "?"


def _diverged_msg(what: str, step: int, lr: float, paths) -> str:
    kept = [str(p) for p in (paths["best"], paths["last"]) if Path(p).exists()]
    keep = f"; the saved checkpoints are untouched ({', '.join(kept)})" if kept else "; nothing was saved"
    return (f"training diverged: the {what} became NaN or infinite at step {step} (lr {lr:g}){keep}. "
            "Try a lower --lr, --clip norm with a smaller --clip-value, or --dtype float64")


def _rewrite_metrics(path: Path, upto_step: int) -> None:
    """Keep the metric records of steps <= ``upto_step`` (a resumed run continues the file)."""
    if upto_step == 0 or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= upto_step:
                kept.append(line)
        except json.JSONDecodeError:
            continue
    atomic_write(path, lambda f: f.write(("\n".join(kept) + "\n" if kept else "").encode("utf-8")))
