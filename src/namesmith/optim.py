"""Optimizers, gradient clipping and learning-rate schedules over ``{name: array}`` dicts.

The optimizer lives outside the model: ``opt.step(params, grads, lr)`` updates
the parameter arrays in place. Its state (moments, step count) is a flat
``{slot/name: array}`` dict plus a few scalars, saved in checkpoints so that a
resumed run continues bit for bit.

Update rules, for a parameter ``p`` with gradient ``g`` at step ``t`` (1-based)::

    sgd       p -= lr * g
    momentum  v = mu * v + g;             p -= lr * v             (PyTorch's form)
    adagrad   m += g^2;                    p -= lr * g / sqrt(m + eps)   (min-char-rnn)
    adam      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
              p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
              (adam's weight_decay is L2: g += wd * p first)
    adamw     p -= lr * wd * p, then the adam step (decoupled decay, Loshchilov & Hutter)
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import ClassVar

import numpy as np

from .errors import ConfigError

Params = dict[str, np.ndarray]


# ----- clipping -------------------------------------------------------------
def clip_by_value(grads: Params, limit: float) -> Params:
    """The notebook's clipping: every element into ``[-limit, limit]``, in place."""
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)
    return grads


def global_norm(grads: Params) -> float:
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_by_global_norm(grads: Params, max_norm: float) -> float:
    """Scale all gradients together so their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping (useful for logging).
    """
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm


# ----- optimizers ------------------------------------------------------------------
class FlatParams:
    """All parameters in one contiguous buffer; the dict's arrays become views into it.

    The update rules are elementwise, so applying them once to the whole buffer
    gives exactly the per-parameter result, with a handful of large NumPy
    operations instead of a handful per parameter (for small models the
    per-call overhead dominates). Used by the trainer via :meth:`Optimizer.bind`.
    """

    def __init__(self, params: Params):
        self.names = list(params)
        self.shapes = [params[k].shape for k in self.names]
        sizes = [params[k].size for k in self.names]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        dtype = np.result_type(*[params[k].dtype for k in self.names])
        self.buffer = np.empty(int(self.offsets[-1]), dtype=dtype)
        for k, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:]):
            self.buffer[a:b] = params[k].ravel()
            params[k] = self.buffer[a:b].reshape(params[k].shape)
        self._ids = [id(params[k]) for k in self.names]

    def owns(self, params: Params) -> bool:
        """True while ``params`` still holds exactly the views made at bind time."""
        return len(params) == len(self._ids) and all(id(params[k]) == i for k, i in zip(self.names, self._ids))

    def gather(self, grads: Params) -> np.ndarray:
        return np.concatenate([grads[k].ravel() for k in self.names]).astype(self.buffer.dtype, copy=False)

    def views(self, flat: np.ndarray) -> Params:
        return {k: flat[a:b].reshape(shape)
                for k, a, b, shape in zip(self.names, self.offsets[:-1], self.offsets[1:], self.shapes)}


class Optimizer:
    """Base class. Subclasses define ``slots`` (per-parameter state arrays) and ``_update``."""

    name: ClassVar[str] = "?"
    slots: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **hyper):
        self.hyper = hyper
        self.t = 0
        self.state: dict[str, Params] = {slot: {} for slot in self.slots}
        self.flat: FlatParams | None = None
        self._flat_state: dict[str, np.ndarray] = {}

    # ----- weight averaging (EMA) --------------------------------------------------
    def average(self, decay: float) -> "Optimizer":
        """Also keep an exponential moving average of the weights (the slot ``ema``), updated after each step::

            d_t = min(decay, (1 + t) / (10 + t));   ema = d_t * ema + (1 - d_t) * params

        (the warm-up keeps the first steps' random weights from lingering). ``decay = 0``: none. Call before
        :meth:`bind`. The average is checkpointed with the other slots, so a resumed run continues it.
        """
        if decay:
            self.hyper["ema"] = float(decay)
            self.state["ema"] = {}
        return self

    @property
    def all_slots(self) -> tuple[str, ...]:
        return self.slots + (("ema",) if "ema" in self.hyper else ())

    def _average_step(self, p: np.ndarray, ema: np.ndarray) -> None:
        d = min(self.hyper["ema"], (1 + self.t) / (10 + self.t))
        ema *= d
        ema += (1.0 - d) * p

    @contextmanager
    def averaged(self, params: Params):
        """Within the block ``params`` hold the averaged weights (in place); the trained ones come back after."""
        if "ema" not in self.hyper:
            yield
            return
        saved = {k: v.copy() for k, v in params.items()}
        try:
            for k, v in params.items():
                v[...] = self.state["ema"].get(k, saved[k])
            yield
        finally:
            for k, v in params.items():
                v[...] = saved[k]

    def bind(self, params: Params) -> None:
        """Move ``params`` into one flat buffer (in place) so each step is a few large operations."""
        self.flat = FlatParams(params)
        for slot in self.all_slots:
            flat = self.flat.buffer.copy() if slot == "ema" else np.zeros_like(self.flat.buffer)
            for name, view in self.flat.views(flat).items():
                if name in self.state[slot]:
                    view[...] = self.state[slot][name]
            self._flat_state[slot] = flat
            self.state[slot] = self.flat.views(flat)

    def step(self, params: Params, grads: Params, lr: float) -> None:
        self.t += 1
        if self.flat is not None and self.flat.owns(params):
            self._update(self.flat.buffer, self.flat.gather(grads), lr, self._flat_state)
            if "ema" in self.hyper:
                self._average_step(self.flat.buffer, self._flat_state["ema"])
            return
        for name, p in params.items():
            g = grads[name]
            st = {}
            for slot in self.all_slots:
                if name not in self.state[slot]:
                    self.state[slot][name] = p.copy() if slot == "ema" else np.zeros_like(p)
                st[slot] = self.state[slot][name]
            self._update(p, g, lr, st)
            if "ema" in st:
                self._average_step(p, st["ema"])

    def _update(self, p, g, lr, st) -> None:
        raise NotImplementedError

    # ----- checkpointing ------------------------------------------------------
    def state_arrays(self) -> Params:
        return {f"{slot}/{name}": arr for slot, d in self.state.items() for name, arr in d.items()}

    def state_meta(self) -> dict:
        return {"type": self.name, "t": self.t, "hyper": self.hyper}

    @classmethod
    def from_config(cls, cfg) -> "Optimizer":
        """The optimizer with the hyperparameters of a training configuration (attributes by name)."""
        raise NotImplementedError

    def load_state(self, meta: dict, arrays: Params, params: Params) -> None:
        """Restore from :meth:`state_meta` / :meth:`state_arrays`; raises ConfigError if they do not fit."""
        if not isinstance(meta, dict) or meta.get("type") != self.name:
            raise ConfigError(f"the saved optimizer state is not {self.name}'s")
        t = meta.get("t")
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ConfigError(f"the saved optimizer step count {t!r} is not a whole number >= 0")
        if meta.get("hyper") != json_ready(self.hyper):
            raise ConfigError("the saved optimizer hyperparameters differ from the run's configuration")
        self.t = t
        for key, arr in arrays.items():
            slot, _, name = key.partition("/")
            if slot not in self.state or name not in params or arr.shape != params[name].shape:
                raise ConfigError(f"optimizer state entry {key!r} does not fit this model")
            if name in self.state[slot]:
                self.state[slot][name][...] = arr  # a view into the flat state: copy in place
            else:
                self.state[slot][name] = arr.astype(params[name].dtype, copy=True)


def json_ready(hyper: dict) -> dict:
    """Hyperparameters as they read back from JSON (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()}


class SGD(Optimizer):
    name = "sgd"

    def __init__(self, weight_decay: float = 0.0):
        super().__init__(weight_decay=weight_decay)

    @classmethod
    def from_config(cls, cfg):
        return cls(weight_decay=cfg.weight_decay)

    def _update(self, p, g, lr, st):
        wd = self.hyper["weight_decay"]
        if wd:
            g = g + wd * p
        p -= lr * g


class Momentum(Optimizer):
    name = "momentum"
    slots = ("v",)

    def __init__(self, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    @classmethod
    def from_config(cls, cfg):
        return cls(momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    def _update(self, p, g, lr, st):
        mu, wd = self.hyper["momentum"], self.hyper["weight_decay"]
        if wd:
            g = g + wd * p
        v = st["v"]
        v *= mu
        v += g
        p -= lr * (g + mu * v if self.hyper["nesterov"] else v)


class Adagrad(Optimizer):
    name = "adagrad"
    slots = ("m",)

    def __init__(self, eps: float = 1e-8):
        super().__init__(eps=eps)

    @classmethod
    def from_config(cls, cfg):
        return cls(eps=cfg.eps)

    def _update(self, p, g, lr, st):
        m = st["m"]
        m += g * g
        p -= lr * g / np.sqrt(m + self.hyper["eps"])


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")
    decoupled = False

    def __init__(self, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(betas=list(betas), eps=eps, weight_decay=weight_decay)

    @classmethod
    def from_config(cls, cfg):
        return cls(betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)

    def _update(self, p, g, lr, st):
        b1, b2 = self.hyper["betas"]
        eps, wd = self.hyper["eps"], self.hyper["weight_decay"]
        if wd and self.decoupled:
            p *= 1.0 - lr * wd
        elif wd:
            g = g + wd * p
        m, v = st["m"], st["v"]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        # lr * m_hat / (sqrt(v_hat) + eps), computed as PyTorch does
        denom = np.sqrt(v)
        denom /= math.sqrt(c2)
        denom += eps
        step = np.divide(m, denom, out=denom)
        step *= lr / c1
        p -= step


class AdamW(Adam):
    name = "adamw"
    decoupled = True

    def __init__(self, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(betas=betas, eps=eps, weight_decay=weight_decay)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Adagrad, Adam, AdamW)
}


def make_optimizer(name: str, **hyper) -> Optimizer:
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}") from None
    return cls(**hyper)


# ----- learning-rate schedules ------------------------------------------------------
SCHEDULES = ("constant", "step", "cosine", "linear")


def lr_at(
    step: int,
    base_lr: float,
    *,
    schedule: str = "constant",
    total_steps: int | None = None,
    warmup: int = 0,
    decay_every: int = 1000,
    gamma: float = 0.5,
    min_lr: float = 0.0,
    frac: float | None = None,
) -> float:
    """The learning rate for optimizer step ``step`` (0-based).

    * ``warmup``: linear ramp from ``base_lr / warmup`` to ``base_lr`` over the
      first ``warmup`` steps, then the schedule (counted from the end of warm-up).
    * ``constant``: ``base_lr``.
    * ``step``: ``base_lr * gamma ** (s // decay_every)``.
    * ``cosine``: from ``base_lr`` down to ``min_lr`` over ``total_steps`` (half cosine).
    * ``linear``: from ``base_lr`` down to ``min_lr`` over ``total_steps``.

    ``frac`` (0..1) replaces ``step / total_steps`` as the progress of cosine and
    linear decay, for runs bounded by time rather than by steps.
    """
    if warmup and step < warmup:
        return base_lr * (step + 1) / warmup
    s = step - warmup
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * gamma ** (s // max(1, decay_every))
    if schedule in ("cosine", "linear"):
        if frac is None:
            if not total_steps:
                raise ConfigError(f"the {schedule} schedule needs --steps, --epochs or --time-limit")
            frac = min(1.0, s / max(1, total_steps - warmup))
        shape = 0.5 * (1.0 + math.cos(math.pi * frac)) if schedule == "cosine" else 1.0 - frac
        return min_lr + (base_lr - min_lr) * shape
    raise ConfigError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
