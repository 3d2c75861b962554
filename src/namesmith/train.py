"""The training loop: model-agnostic, reproducible, resumable bit for bit.

The loop (:func:`train`) reads like nanoGPT's::

    while not stopped:
        batch = plan.batch(step)                      # length-bucketed, seeded per epoch
        lr = plan.lr(step, elapsed)                   # warm-up + schedule
        loss = train_step(model, batch, opt, cfg, lr, rng)   # forward, backward, clip, update
        log every log_every steps; evaluate_and_checkpoint every eval_every steps

Everything around it - reading the data, resuming, saving files, sampling
names for the log, the final n-gram mixture - is done by the caller
(:mod:`namesmith.api`), which receives the loop's events through :class:`Hooks`.
So this module depends only on the data, the models and the optimizer.

Randomness is derived statelessly from ``cfg.seed`` with
``SeedSequence(seed, spawn_key=...)``: the split, the initial weights and the
batch order of epoch ``e`` each have their own stream, and the dropout masks of
step ``s`` come from that stream's PCG64 generator advanced by ``s * 2**40``
draws (:class:`StepStreams`). A checkpoint therefore needs only the parameters, the
optimizer state and the :class:`RunState` to continue exactly where it stopped.

Stopping: ``steps`` (total across resumes), ``epochs``, ``time_limit`` (seconds
of this invocation), early stopping after ``patience`` evaluations without
improvement, or Ctrl-C (the current step finishes, ``last`` is saved, exit 130).
Divergence (:class:`TrainingDiverged`, exit 1) is the optimisation failing: a
loss, gradient or held-out NLL that is NaN or infinite, or a mean *training*
NLL since the last evaluation that is worse than both uniform guessing
(``ln V``) and the run's first step by more than one nat per character. It is
checked before anything is saved, so a diverged run leaves every file as it
was. (A poor *held-out* NLL with a good training NLL is over-fitting, which
early stopping and checkpoint selection handle.)
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from .batch import Batch, balanced_draw, batch_order, pad
from .config import TrainConfig
from .corpus import Corpus, load_corpus
from .errors import ConfigError, TrainingDiverged
from .models import Model, TrainableModel
from .models.base import batched_nll
from .models.mixture import Mixture, component_logprobs, em_weights, fit_style_weights, fit_weights
from .models.layers import logsumexp
from .models.ngram import NGram
from .optim import Optimizer, clip_by_global_norm, clip_by_value, lr_at
from .vocab import Encoded, Vocab

# spawn keys of the independent random streams derived from cfg.seed
STREAM_SPLIT, STREAM_INIT, STREAM_DATA, STREAM_DROPOUT = range(4)
SLACK = 1.0  # nats per character above max(ln V, the first step's loss) that mean divergence


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


class StepStreams:
    """One independent random stream per training step, derived statelessly from (seed, stream, step).

    The PCG64 generator of ``SeedSequence(seed, spawn_key=(stream,))``, reset and
    advanced by ``step * 2**40`` draws: step ``s`` owns draws ``[s * 2**40, (s+1) * 2**40)``.
    Jumping costs ~2 µs where a freshly seeded generator costs ~17 µs (it matters
    for small models). The generator object is reused: take a step's stream, use
    it, then take the next.
    """

    def __init__(self, seed: int, key: int):
        self.gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))
        self.base = self.gen.bit_generator.state

    def at(self, step: int) -> np.random.Generator:
        self.gen.bit_generator.state = self.base
        self.gen.bit_generator.advance(step << 40)
        return self.gen


# ----- data -----------------------------------------------------------------------------------------
@dataclass
class TrainData:
    train: Corpus
    val: Corpus
    vocab: Vocab
    encoded: Encoded  # the training names
    val_encoded: Encoded
    source: Corpus  # the corpus as given, before any split
    styles: list[str] = field(default_factory=list)  # a labelled corpus's styles (id = index); empty otherwise
    # a headed labelled corpus's further columns and their values (id = index; blank = the count): the
    # factors a conditional network learns beside the style (empty when fine-tuning)
    factors: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def factor_sizes(self) -> list[int]:
        return [len(values) for _, values in self.factors]


def load_data(cfg: TrainConfig, base: tuple[Vocab, list[str]] | None = None) -> TrainData:
    """Read, split and encode the corpus. ``base`` (fine-tuning): the base model's vocabulary and styles,
    kept in their order with this corpus's new characters and styles appended."""
    return split_data(load_corpus(cfg.corpus, lowercase=not cfg.keep_case, max_len=cfg.max_item_len), cfg, base)


def split_data(corpus: Corpus, cfg: TrainConfig, base: tuple[Vocab, list[str]] | None = None) -> TrainData:
    """:func:`load_data` for a corpus already read: the split (or ``cfg.val``), the vocabulary, the encoding."""
    lowercase = not cfg.keep_case
    if cfg.val:
        train, val = corpus, load_corpus(cfg.val, lowercase=lowercase, max_len=cfg.max_item_len)
    elif cfg.val_fraction > 0 and len(corpus) >= 2:
        train, val = corpus.split(cfg.val_fraction, np.random.SeedSequence(cfg.seed, spawn_key=(STREAM_SPLIT,)),
                                  cfg.val_max)
    else:
        train, val = corpus, Corpus((), "none")
    # the validation names' characters join the vocabulary, so their NLL is always defined
    names = train.names + val.names
    vocab = Vocab.from_names(names) if base is None else base[0].extended(names)
    encoded, val_encoded = vocab.encode_many(train.names), vocab.encode_many(val.names)
    styles = corpus.styles if base is None else base[1] + [s for s in corpus.styles if s not in base[1]]
    if corpus.labels is not None:  # a labelled corpus: every name carries its style id
        encoded = encoded.with_styles(train.style_ids(styles))
        if val.labels is not None:
            val_encoded = val_encoded.with_styles(val.style_ids(styles))
    factors = [] if base is not None else [(c, sorted(set(v) - {""})) for c, v in corpus.factors]
    factors = [(c, v) for c, v in factors if v]  # a column left blank everywhere teaches nothing
    if factors:
        encoded = encoded.with_factors(factor_ids(train, factors))
        if val.factors:
            val_encoded = val_encoded.with_factors(factor_ids(val, factors))
    return TrainData(train, val, vocab, encoded, val_encoded, corpus, styles, factors)


def factor_ids(corpus: Corpus, factors: list[tuple[str, list[str]]]) -> np.ndarray:
    """Each name's value id in each factor ``(N, K)``: the value's index, the factor's count for a blank."""
    out = np.empty((len(corpus), len(factors)), dtype=np.int32)
    for k, (column, values) in enumerate(factors):
        index = {v: i for i, v in enumerate(values)}
        given = corpus.factor(column) or ("",) * len(corpus)
        out[:, k] = np.fromiter((index.get(v, len(values)) for v in given), dtype=np.int32, count=len(corpus))
    return out


def heldout_nll(model: Model, encoded: Encoded, rows: int = 1024) -> float:
    """Mean NLL per predicted symbol (nats; end tokens included) of the encoded names."""
    total = sum(float(b.nll.sum()) for b in batched_nll(model, encoded, rows))
    return total / max(encoded.tokens, 1)


# ----- the state of a run -------------------------------------------------------------------------------
@dataclass
class RunState:
    """What a checkpoint stores about the loop (``meta["train"]``) besides the configuration."""

    step: int = 0
    best_val_nll: float | None = None
    evals_since_best: int = 0
    window: list = field(default_factory=lambda: [0.0, 0, 0])  # [NLL sum, tokens, steps] since the last log

    def count(self, loss: float, batch: Batch) -> None:
        self.step += 1
        self.window[0] += float(loss) * batch.norm
        self.window[1] += batch.tokens
        self.window[2] += 1

    def to_dict(self) -> dict:
        return {"step": self.step, "best_val_nll": self.best_val_nll, "evals_since_best": self.evals_since_best,
                "window": list(self.window)}


class Hooks:
    """The loop's events. The default does nothing; :mod:`namesmith.api` saves, logs and shows progress."""

    def log_record(self, rec: dict, line: str) -> None:  # every log_every steps
        pass

    def eval_record(self, rec: dict, line: str) -> None:  # every evaluation
        pass

    def checkpoint(self, which: str, state: RunState) -> None:  # "best" or "last"
        pass

    def samples(self, step: int) -> list[str]:  # names to show at an evaluation
        return []

    def after_step(self, state: RunState, seconds: float, tokens: int) -> None:
        pass


# ----- the plan: budget, batches, learning rate -----------------------------------------------------------
class Plan:
    """When the run stops, which batch comes at a step and with which learning rate."""

    def __init__(self, cfg: TrainConfig, data: TrainData, dtype: np.dtype):
        self.cfg, self.data, self.dtype = cfg, data, dtype
        self.per_epoch = math.ceil(len(data.train) / cfg.batch_size)
        # evaluations every eval_every steps, or every eval_epochs epochs when that comes sooner (a small list)
        self.eval_every = cfg.eval_every if cfg.eval_epochs is None else max(
            1, min(cfg.eval_every, round(cfg.eval_epochs * len(data.train) / cfg.batch_size)))
        budgets = [b for b in (cfg.steps, math.ceil(cfg.epochs * self.per_epoch) if cfg.epochs else None)
                   if b is not None]
        self.total = min(budgets) if budgets else None
        if self.total is None and cfg.time_limit is None:
            raise ConfigError("say when to stop: --steps, --epochs or --time-limit")
        if self.total is not None and cfg.warmup >= max(self.total, 1):
            raise ConfigError(f"--warmup ({cfg.warmup} steps) must be shorter than the run ({self.total} steps)")
        # Each batch's summed NLL is divided by its expected number of predicted symbols (names x the corpus
        # mean) rather than its own count: with length buckets a batch of short names would otherwise weigh
        # each of its symbols more than a batch of long names, biasing the per-character objective.
        self.mean_tokens = float(data.encoded.lengths.mean()) + 1.0
        self._epoch, self._order = -1, []

    def batch(self, step: int) -> Batch:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            rng = stream(self.cfg.seed, STREAM_DATA, epoch)
            styles = self.data.encoded.styles
            if styles is None or self.cfg.style_balance == 1.0:
                self._order = batch_order(self.data.encoded.lengths, self.cfg.batch_size, rng, bucket=self.cfg.bucket)
            else:  # small styles drawn more often: an epoch of names drawn with repetition
                drawn = balanced_draw(styles, self.cfg.style_balance, rng)  # (N,)
                self._order = [drawn[b] for b in batch_order(self.data.encoded.lengths[drawn], self.cfg.batch_size,
                                                             rng, bucket=self.cfg.bucket)]
        idx = self._order[i]
        norm = len(idx) * self.mean_tokens if self.cfg.norm == "mean" else "tokens"
        return pad(self.data.encoded, idx, dtype=self.dtype, norm=norm)

    def lr(self, step: int, elapsed: float) -> float:
        cfg = self.cfg
        horizon = cfg.decay_steps or self.total
        frac = min(1.0, elapsed / cfg.time_limit) if horizon is None and cfg.time_limit else None
        return lr_at(step, cfg.lr, schedule=cfg.schedule, total_steps=horizon, warmup=cfg.warmup,
                     decay_every=cfg.decay_every, gamma=cfg.gamma, min_lr=cfg.min_lr, frac=frac)

    def stop_reason(self, step: int, elapsed: float, interrupted: bool) -> str | None:
        if self.total is not None and step >= self.total:
            return "steps"
        if self.cfg.time_limit is not None and elapsed >= self.cfg.time_limit:
            return "time limit"
        return "interrupted" if interrupted else None

    def epoch(self, step: int) -> float:
        return step / self.per_epoch


# ----- one step ------------------------------------------------------------------------------------
class NonFinite(ArithmeticError):
    """The loss or a gradient of a step is NaN or infinite."""


def train_step(model: TrainableModel, batch: Batch, opt: Optimizer, cfg: TrainConfig, lr: float,
               rng: np.random.Generator) -> float:
    """Forward, backward, clip and update on one batch; returns the loss. Raises :class:`NonFinite`."""
    with np.errstate(all="ignore"):  # overflow is detected here, not warned about
        loss, cache = model.forward(batch, train=True, rng=rng)
        if not math.isfinite(loss):
            raise NonFinite("loss")
        grads = model.backward(cache)
        if cfg.clip == "norm":
            if not math.isfinite(clip_by_global_norm(grads, cfg.clip_value)):
                raise NonFinite("gradient")
        elif not all(np.isfinite(g).all() for g in grads.values()):
            raise NonFinite("gradient")
        elif cfg.clip == "value":
            clip_by_value(grads, cfg.clip_value)
        opt.step(model.params, grads, lr)
    return float(loss)


def diverged(what: str, step: int, lr: float | None = None) -> TrainingDiverged:
    at = f" at step {step}" + (f" (lr {lr:g})" if lr is not None else "")
    return TrainingDiverged(f"training diverged: the {what}{at}. Try a lower --lr, --clip norm with a smaller "
                            "--clip-value, or --dtype float64")


# ----- evaluation and checkpoints ---------------------------------------------------------------------------
def divergence_bound(vocab_size: int, start_nll: float | None) -> float:
    """The training NLL above which a run has diverged: max(ln V, where it started) + one nat."""
    return max(math.log(vocab_size), start_nll if start_nll is not None else 0.0) + SLACK


def evaluate_and_checkpoint(model: Model, data: TrainData, state: RunState, hooks: Hooks, cfg: TrainConfig,
                            recent_train_nll: float | None, bound: float, train_seconds: float,
                            final: bool = False, averaged=contextlib.nullcontext) -> tuple[float, bool]:
    """Measure the held-out NLL, keep the best model, save the last one. Returns (NLL, stop early?).

    ``averaged()`` is a context in which the model holds the weights to evaluate and keep (the
    optimizer's moving average with ``--ema``); the last checkpoint keeps the trained weights.
    The final evaluation of a run neither counts towards early stopping nor shows sample names.
    """
    if recent_train_nll is not None and not recent_train_nll <= bound:
        raise diverged(f"training loss ({recent_train_nll:.4g} nats/char) is worse than uniform guessing "
                       f"(ln {data.vocab.size} = {math.log(data.vocab.size):.4f})", state.step)
    with averaged():
        val = heldout_nll(model, data.val_encoded) if len(data.val) else None
        if val is not None and not math.isfinite(val):
            raise diverged("held-out NLL became NaN or infinite", state.step)
        improved = val is not None and (state.best_val_nll is None or val < state.best_val_nll)
        if improved:
            state.best_val_nll, state.evals_since_best = val, 0
            hooks.checkpoint("best", state)
    if val is not None and not improved and not final:
        state.evals_since_best += 1
    names = [] if final else hooks.samples(state.step)
    rec = {"step": state.step, "val_nll": val, "best_val_nll": state.best_val_nll, "samples": names,
           "train_seconds": round(train_seconds, 3)}
    line = (f"eval step {state.step}: val {_f(val)} nats/char ({_f(val and val / math.log(2))} bits/char), "
            f"best {_f(state.best_val_nll)}{' *' if improved else ''}" + (" | " + ", ".join(names) if names else ""))
    hooks.eval_record(rec, line)
    hooks.checkpoint("last", state)
    return val, bool(cfg.patience and state.evals_since_best >= cfg.patience)


# ----- the loop ----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    stopped: str  # steps | time limit | early stopping | interrupted
    seconds: float  # wall time of this invocation
    train_seconds: float  # time in training steps only
    chars: int  # predicted symbols processed


def train(model: TrainableModel, data: TrainData, cfg: TrainConfig, opt: Optimizer, state: RunState,
          hooks: Hooks = Hooks(), *, clock: Callable[[], float] = time.perf_counter) -> Outcome:
    """Run the loop from ``state`` (see the module docstring); ``opt`` must be bound to ``model.params``."""
    plan = Plan(cfg, data, model.dtype)
    dropout = StepStreams(cfg.seed, STREAM_DROPOUT)
    averaged = functools.partial(opt.averaged, model.params)  # the weights evaluated and kept (EMA or as trained)
    start, t0 = state.step, clock()
    bound = divergence_bound(data.vocab.size, None)
    train_time, chars, log_time, log_chars = 0.0, 0, 0.0, 0
    recent = [0.0, 0]  # training NLL sum and tokens since the last evaluation (the divergence check)
    stopped, last_val = None, state.best_val_nll
    with CtrlC() as stop:
        while (stopped := plan.stop_reason(state.step, clock() - t0, stop.requested)) is None:
            ts = clock()
            batch = plan.batch(state.step)
            lr = plan.lr(state.step, ts - t0)
            try:
                loss = train_step(model, batch, opt, cfg, lr, dropout.at(state.step))
            except NonFinite as e:
                raise diverged(f"{e} became NaN or infinite", state.step + 1, lr) from None
            if state.step == 0:  # where the run starts
                bound = divergence_bound(data.vocab.size, loss * batch.norm / batch.tokens)
            state.count(loss, batch)
            recent[0] += loss * batch.norm
            recent[1] += batch.tokens
            dt = clock() - ts
            train_time, chars, log_time, log_chars = train_time + dt, chars + batch.tokens, log_time + dt, \
                log_chars + batch.tokens
            hooks.after_step(state, dt, batch.tokens)
            if state.step % cfg.log_every == 0:
                _log(state, plan, hooks, lr, log_chars / max(log_time, 1e-9), clock() - t0, train_time, last_val,
                     start)
                log_time, log_chars = 0.0, 0
            if state.step % plan.eval_every == 0:
                last_val, stop_early = evaluate_and_checkpoint(model, data, state, hooks, cfg, _mean(recent), bound,
                                                               train_time, averaged=averaged)
                recent = [0.0, 0]
                if stop_early:
                    stopped = "early stopping"
                    break
    if state.step % plan.eval_every != 0 or state.step == start:  # the final evaluation
        evaluate_and_checkpoint(model, data, state, hooks, cfg, _mean(recent), bound, train_time, final=True,
                                averaged=averaged)
    return Outcome(stopped, clock() - t0, train_time, chars)


def _mean(nll_tokens: list) -> float | None:
    return nll_tokens[0] / nll_tokens[1] if nll_tokens[1] else None


def _log(state: RunState, plan: Plan, hooks: Hooks, lr: float, cps: float, elapsed: float, train_time: float,
         last_val: float | None, start: int) -> None:
    nll = state.window[0] / max(state.window[1], 1)
    rec = {"step": state.step, "epoch": round(plan.epoch(state.step), 4), "train_nll": nll, "lr": lr,
           "chars_per_s": round(cps), "elapsed": round(elapsed, 3), "train_seconds": round(train_time, 3)}
    state.window = [0.0, 0, 0]
    total = f"/{plan.total}" if plan.total else ""
    line = (f"step {state.step}{total} | epoch {plan.epoch(state.step):.2f} | loss {nll:.4f} | "
            f"val {_f(last_val)} | {cps:,.0f} chars/s | eta {_eta(state.step, plan, elapsed, start)}")
    hooks.log_record(rec, line)


def _f(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def _eta(step: int, plan: Plan, elapsed: float, start: int) -> str:
    left = []
    if plan.total is not None and step > start:
        left.append(elapsed / (step - start) * (plan.total - step))
    if plan.cfg.time_limit is not None:
        left.append(plan.cfg.time_limit - elapsed)
    if not left:
        return "?"
    m, s = divmod(max(0, int(round(min(left)))), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class CtrlC:
    """First Ctrl-C asks the loop to stop after the current step; a second one aborts at once."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> bool:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


# ----- after training ---------------------------------------------------------------------------------------------
def mix_with_ngram(neural: Model | list[Model], data: TrainData, order: int,
                   discount: float | None, fixed: Sequence[Model] = ()) -> tuple[Mixture, float]:
    """Interpolate ``neural`` (one network, or several: an ensemble) with a Kneser-Ney n-gram fitted on the
    training names, and the ``fixed`` models (trained on other data: a fine-tuned list's base n-gram).

    The weights are fitted on the validation names (never on the data either
    model was trained on); for a labelled corpus also one set per style (each style's validation names, the
    pooled weights as a prior). Returns the mixture and its validation NLL.
    """
    nets = neural if isinstance(neural, list) else [neural]
    order = min(order, NGram.max_order(data.vocab.size))  # thousands of symbols: the highest order that fits
    styles = len(data.styles) if data.encoded.styles is not None else 0  # per style only from labelled names
    ngram = NGram.fit({"vocab_size": data.vocab.size, "order": order, "discount": discount, "styles": styles},
                      data.encoded, data.val_encoded)
    parts = [*nets, ngram, *fixed]
    weights = fit_weights(parts, data.val_encoded)
    per_style = fit_style_weights(parts, data.val_encoded, styles, weights) if styles else None
    mixture = Mixture.of(parts, weights, per_style)
    return mixture, heldout_nll(mixture, data.val_encoded)


# ----- cross-validation bagging (--folds) ---------------------------------------------------------------
def fold_data(data: TrainData, folds: int, seed: int) -> list[TrainData]:
    """``folds`` splits of ``data.train``: split ``k`` trains on every name but the ``k``-th fold (every
    ``folds``-th name of one seeded permutation) and validates on it; each name is held out exactly once."""
    n = len(data.train)
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_SPLIT,))).permutation(n)
    out = []
    for k in range(folds):
        held = np.sort(order[k::folds])
        keep = np.setdiff1d(np.arange(n), held)
        out.append(replace(data, train=data.train.subset(keep, "train split"),
                           val=data.train.subset(held, "validation split"),
                           encoded=data.encoded.take(keep), val_encoded=data.encoded.take(held)))
    return out


def mix_folds(nets: list[Model], splits: list[TrainData], data: TrainData, order: int,
              discount: float | None, fixed: Sequence[Model] = ()) -> tuple[Mixture, float]:
    """The fold networks averaged and interpolated with a Kneser-Ney n-gram of all the names (``order`` 0: none)
    and the ``fixed`` models (trained on other data, so every name is out of their fold).

    The weights (the networks' share, split evenly among them, the n-gram's and
    each fixed model's) are fitted by EM on out-of-fold predictions: each name
    scored by the network and by an n-gram that were both trained without it.
    Returns the mixture and that out-of-fold NLL.
    """
    if not order:  # no n-gram: the networks' plain average
        lp = np.concatenate([component_logprobs([net], split.val_encoded) for net, split in zip(nets, splits)],
                            axis=1)  # (1, N)
        return Mixture.of(nets, [1.0 / len(nets)] * len(nets)), float(-lp.mean())
    order = min(order, NGram.max_order(data.vocab.size))
    config = {"vocab_size": data.vocab.size, "order": order, "discount": discount, "styles": 0}
    lp = np.concatenate([component_logprobs([net, NGram.fit(config, split.encoded), *fixed], split.val_encoded)
                         for net, split in zip(nets, splits)], axis=1)  # (2 + fixed, N) every held-out symbol
    w_net, w_ngram, *w_fixed = w = em_weights(lp)
    ngram = NGram.fit(config, data.encoded)
    mixture = Mixture.of([*nets, ngram, *fixed], [w_net / len(nets)] * len(nets) + [w_ngram, *w_fixed])
    nll = float(-logsumexp(lp + np.log(w)[:, None], axis=0).mean())
    return mixture, nll
