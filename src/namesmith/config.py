"""Training configuration: defaults < preset < TOML file (``--config``) < command line.

Every training option is a field of :class:`TrainConfig`; the CLI exposes each
one as ``--option-name`` and a TOML file may set any of them by field name
(``hidden = 256``), either at the top level or all under one ``[train]`` table.
:meth:`TrainConfig.validate` checks every option (type, range, finiteness)
before any work starts. The resolved configuration is printed at the start of a
run and stored in every checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .corpus import LONGEST_NAME
from .errors import ConfigError
from .files import read_limited
from .models import buildable_kinds, model_class
from .models.base import DTYPES
from .optim import OPTIMIZERS, SCHEDULES

MAX_TOML_BYTES = 1 << 20
MAX_SEED = 2**63 - 1
CLIP_MODES = ("norm", "value", "none")
NORMS = ("mean", "batch")


def choices() -> dict[str, list[str]]:
    """The allowed values of every option that has a fixed list (the CLI's choices come from here)."""
    return {"model": buildable_kinds(), "optimizer": list(OPTIMIZERS), "schedule": list(SCHEDULES),
            "clip": list(CLIP_MODES), "norm": list(NORMS), "dtype": list(DTYPES)}


@dataclass
class TrainConfig:
    # ----- data
    corpus: str | None = None  # path or built-in corpus name; None = the default corpus
    val: str | None = None  # explicit validation file; else a split of the corpus
    val_fraction: float = 0.1
    folds: int = 1  # K > 1: train K networks, each validated on its own 1/K of the names, and average them
    ensemble: int = 1  # N > 1: train N networks on the same split (seeds seed, seed+1, ...) and mix them
    jobs: int | None = None  # --folds/--ensemble: networks trained at once in separate processes; None = one per core
    val_max: int = 10_000  # at most this many names in a --val-fraction split (makemore: min(1000, 10%))
    keep_case: bool = False
    max_item_len: int = 64
    # ----- model
    model: str = "lstm"
    hidden: int = 256
    layers: int = 1
    embed: int = 32
    dropout: float = 0.25
    learn_h0: bool = False
    variational: bool = False  # recurrent models: one dropout mask per name for all its positions
    weight_drop: float = 0.0  # recurrent models: DropConnect on the recurrent weights (one mask per batch)
    heads: int = 4  # transformer: attention heads (embed must be a multiple)
    block: int | None = None  # transformer: learned positions; mlp: window of characters; None = the model's own
    tie: bool = False  # transformer: the output layer reuses the token embedding
    style_dropout: float = 0.1  # labelled corpora: share of names trained as "any style" (the pooled model)
    style_balance: float = 1.0  # labelled corpora: draw style s's names in proportion to n_s ** this (1 = as given)
    order: int = 6  # n-gram order
    discount: float | None = None  # n-gram discount; None = estimated from counts
    mix_ngram: int = 6  # after training, interpolate with a Kneser-Ney n-gram of this order (0 = no)
    dtype: str = "float32"
    # ----- optimisation
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    clip: str = "norm"  # norm | value | none
    clip_value: float = 5.0
    schedule: str = "cosine"  # constant | step | cosine | linear
    warmup: int = 0
    decay_every: int = 1000
    decay_steps: int | None = None  # length of cosine/linear decay; None = the run's total steps
    gamma: float = 0.5
    min_lr: float = 0.0
    ema: float = 0.0  # evaluate and keep a moving average of the weights with this decay (0 = off; presets: 0.999)
    batch_size: int = 64
    bucket: bool = True
    norm: str = "mean"  # per-token weight: "mean" (constant, unbiased) or "batch" (each batch's own count)
    # ----- stopping and evaluation
    steps: int | None = 9000
    epochs: float | None = None
    time_limit: float | None = None
    eval_every: int = 250
    patience: int | None = 10  # evaluations without improvement before stopping
    # ----- output
    out: str | None = None  # where the best model goes (the CLI's default: model.npz); None = write nothing
    log_every: int = 100
    samples: int = 5  # names printed at each evaluation
    seed: int = 1337
    preset: str | None = None
    init_from: str | None = None  # fine-tune: a checkpoint (or shipped model) whose network starts the run

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def model_config(self, vocab_size: int, styles: int = 0) -> dict:
        """The model's own configuration: the fields its class declares, plus the vocabulary size, dtype and,
        for a labelled corpus, the number of styles (for the classes that take styles)."""
        cls = model_class(self.model)
        values = {**self.to_dict(), "styles": styles}
        own = {k: values[k] for k in cls.defaults if values.get(k) is not None}  # None: the model's default
        return {**own, "vocab_size": vocab_size, "dtype": self.dtype}

    def validate(self) -> "TrainConfig":
        for name, value in self.to_dict().items():
            _coerce(name, value)  # types (a dataclass does not check them)
        for name, allowed in choices().items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"--{_flag(name)} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        _check_ranges(self)
        model_class(self.model).check_config(self.model_config(vocab_size=2))
        return self


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _check_ranges(c: TrainConfig) -> None:
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ConfigError(msg)

    need(0.0 <= c.style_dropout <= 1.0, f"--style-dropout must be in [0, 1], got {c.style_dropout}")
    need(0.0 <= c.style_balance <= 1.0, f"--style-balance must be in [0, 1], got {c.style_balance}")
    need(1 <= c.folds <= 7, f"--folds must be in [1, 7], got {c.folds}")
    need(c.folds == 1 or c.val is None, "--folds holds out its own validation names; leave out --val")
    need(1 <= c.ensemble <= 8, f"--ensemble must be in [1, 8], got {c.ensemble}")
    need(c.jobs is None or 1 <= c.jobs <= 64, f"--jobs must be in [1, 64], got {c.jobs}")
    need(0.0 <= c.val_fraction < 1.0, f"--val-fraction must be in [0, 1), got {c.val_fraction}")
    need(1 <= c.val_max <= 10_000_000, f"--val-max must be in [1, 10000000], got {c.val_max}")
    need(1 <= c.max_item_len <= LONGEST_NAME, f"--max-item-len must be in [1, {LONGEST_NAME}]")
    need(c.mix_ngram == 0 or 1 <= c.mix_ngram <= 10, "--mix-ngram must be an n-gram order in [1, 10], or 0 for none")
    need(c.discount is None or 0 < c.discount < 1, f"--discount must be in (0, 1), got {c.discount}")
    need(c.lr > 0, f"--lr must be a number above 0, got {c.lr}")
    need(0 <= c.momentum < 1, f"--momentum must be in [0, 1), got {c.momentum}")
    need(0 <= c.beta1 < 1 and 0 <= c.beta2 < 1, "--beta1/--beta2 must be in [0, 1)")
    need(0 < c.eps <= 1, f"--eps must be in (0, 1], got {c.eps}")
    need(c.ema == 0 or 0.5 <= c.ema < 1, f"--ema must be 0 (off) or a decay in [0.5, 1), got {c.ema}")
    need(0 <= c.weight_decay <= 10, f"--weight-decay must be in [0, 10], got {c.weight_decay}")
    need(0 < c.clip_value <= 1e6, f"--clip-value must be in (0, 1e6], got {c.clip_value}")
    need(0 < c.gamma <= 1, f"--gamma (the decay factor) must be in (0, 1], got {c.gamma}")
    need(0 <= c.min_lr <= c.lr, f"--min-lr must be in [0, --lr], got {c.min_lr}")
    need(1 <= c.decay_every <= 10**9, "--decay-every must be in [1, 1e9]")
    need(c.decay_steps is None or 1 <= c.decay_steps <= 10**9, "--decay-steps must be in [1, 1e9]")
    need(1 <= c.batch_size <= 65_536, f"--batch-size must be in [1, 65536], got {c.batch_size}")
    need(c.steps is None or 0 <= c.steps <= 10**9, "--steps must be in [0, 1e9]")
    need(c.epochs is None or 0 < c.epochs <= 1e6, "--epochs must be a number in (0, 1e6]")
    need(c.time_limit is None or 0 < c.time_limit <= 1e7, "--time-limit must be a number of seconds in (0, 1e7]")
    need(0 <= c.warmup <= 10**9, "--warmup must be in [0, 1e9]")
    need(c.steps is None or c.warmup < max(c.steps, 1),
         f"--warmup ({c.warmup} steps) must be shorter than the run (--steps {c.steps})")
    need(1 <= c.eval_every <= 10**9 and 1 <= c.log_every <= 10**9, "--eval-every and --log-every must be >= 1")
    need(c.patience is None or 1 <= c.patience <= 10**6, "--patience must be >= 1 (or 0 for none)")
    need(0 <= c.samples <= 1000, "--samples must be in [0, 1000]")
    need(0 <= c.seed <= MAX_SEED, "--seed must be in [0, 2**63)")
    need(c.out is None or bool(c.out), "the output path (-o) is empty; give a file name")
    need(c.val is None or bool(c.val), "--val is empty; give a file of validation names (or leave --val out)")
    need(c.init_from is None or bool(c.init_from),
         "--init-from is empty; give a model file or a shipped model's name (namesmith models)")
    need(c.corpus is None or bool(c.corpus), "the corpus is empty; give a file, a folder or a built-in corpus")


FIELDS = {f.name: f for f in fields(TrainConfig)}

# Options that define the model, the data or the optimizer: fixed once a run has started.
RESUME_FIXED = {
    "corpus", "val", "val_fraction", "val_max", "folds", "ensemble", "keep_case", "max_item_len", "model", "hidden",
    "layers", "embed", "dropout", "learn_h0", "variational", "weight_drop", "heads", "block", "tie", "style_dropout",
    "style_balance", "order", "discount", "dtype",
    "optimizer", "momentum", "beta1", "beta2", "eps", "weight_decay", "ema", "batch_size", "bucket", "norm", "seed",
    "preset", "init_from",
}
# What fine-tuning takes from the base model, never from the command line.
ARCHITECTURE = ("model", "hidden", "layers", "embed", "learn_h0", "heads", "block", "tie", "dtype")
# What fine-tuning takes from the base model unless the command line or the TOML file gives it.
REGULARIZERS = ("dropout", "style_dropout", "variational", "weight_drop")


# Presets: measured in BENCHMARKS.md. The field defaults above, with the "default" entry's changes, are the
# default preset: the best model that trains within about 2 minutes on 2 CPU cores (107 s measured with 0.8.1).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {  # --ema: the weights' moving average (1.8717 against 1.8731 without); --embed 64 rather than
        # 32: test 1.8636 / 1.8609 against 1.8717 / 1.8660 for seeds 1337 / 1338, validation better too (128: no
        # better than 64); patience 4: patience 10 spent a third of the run (2,500 steps) after the best validation
        "ema": 0.999, "embed": 64, "patience": 4,
    },
    "fast": {  # about 15 seconds (12 s measured on names-ssa2018)
        "model": "gru", "hidden": 128, "embed": 32, "dropout": 0.1, "batch_size": 32, "lr": 3e-3,
        "steps": 3000, "eval_every": 250, "patience": 8, "mix_ngram": 5,
    },
    "finetune": {  # --init-from: a small list adapts a trained network (the architecture comes from it);
        # five folds, each network early-stopped on its own fifth of the list, averaged with a 4-gram of all of it
        # (benchmarks/finetune_dev.py, lists of 50 and 200 names of two styles the base never saw: mean NLL
        # 2.2040 against 2.2717 for one network validated on 20% at lr 1e-3, -3.0%; with the base's n-gram of
        # the style the list sounds like in the mixture (api._Base.ngram), 2.1723, -1.4% more)
        "lr": 5e-4, "steps": 1500, "eval_every": 50, "patience": 6, "batch_size": 32, "val_fraction": 0.2,
        "schedule": "constant", "mix_ngram": 4, "folds": 5,
    },
    "best": {  # under 10 minutes on 2 cores (514-570 s measured): two LSTMs side by side, one per core, mixed with
        # the 6-gram: 1.8455 against 1.8518 for one of them (its best validation at step 2,600 of 4,600, so
        # half of the 10 minutes went to waiting for patience 10); --ema: 1.8518 against 1.8573 without
        "model": "lstm", "hidden": 512, "embed": 64, "dropout": 0.35, "batch_size": 128, "lr": 2e-3,
        "steps": 6000, "eval_every": 200, "patience": 3, "mix_ngram": 6, "ema": 0.999, "ensemble": 2,
    },
}


def _coerce(name: str, value: Any) -> Any:
    """``value`` as the type of option ``name``, or a ConfigError naming the option."""
    f = FIELDS.get(name)
    if f is None:
        raise ConfigError(f"unknown training option {name!r}")
    typ = str(f.type)
    if value is None:
        if "None" not in typ:
            raise ConfigError(f"option {name} cannot be empty")
        return None
    if typ.startswith("bool"):
        if not isinstance(value, bool):
            raise ConfigError(f"option {name} must be true or false, got {value!r}")
        return value
    if typ.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"option {name} must be a whole number, got {value!r}")
        return value
    if typ.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"option {name} must be a finite number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"option {name} must be text, got {value!r}")
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Options from a TOML file: all at the top level, or all in one ``[train]`` table."""
    raw = read_limited(path, MAX_TOML_BYTES, what="configuration file", error=ConfigError)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError, ValueError) as e:
        raise ConfigError(f"{path}: not a valid TOML file: {e}") from None
    tables = sorted(k for k, v in data.items() if isinstance(v, dict))
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    unknown = [t for t in tables if t != "train"]
    if unknown:
        raise ConfigError(f"{path}: unknown table [{unknown[0]}]; put options at the top level or under [train]")
    if tables and top:
        raise ConfigError(f"{path}: sets options both at the top level ({sorted(top)[0]}) and in [train]; use one")
    table = data["train"] if tables else top
    return {k.replace("-", "_"): v for k, v in table.items()}


def resolve(cli: dict[str, Any], config_file: str | Path | None = None,
            base: dict[str, Any] | None = None) -> TrainConfig:
    """Merge defaults < ``base`` < preset < TOML file < ``cli`` into a validated :class:`TrainConfig`."""
    if not isinstance(cli, dict):
        raise ConfigError("training options must be a mapping of option names to values")
    file_values = load_toml(config_file) if config_file else {}
    merged: dict[str, Any] = dict(base or {})
    preset = cli.get("preset", file_values.get("preset", merged.get("preset")))
    if preset is None:
        preset = "finetune" if cli.get("init_from", file_values.get("init_from")) else "default"
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    merged.update(PRESETS[preset])
    merged["preset"] = preset  # recorded in every checkpoint
    merged.update(file_values)
    merged.update(cli)
    explicit = set(file_values) | set(cli)
    if ({"epochs", "time_limit"} & explicit) and "steps" not in explicit:
        merged["steps"] = None  # an explicit epoch or time budget replaces the default step budget
    if merged.get("patience") == 0:
        merged["patience"] = None  # --patience 0: no early stopping
    cfg = from_dict(merged)
    if not cfg.init_from:  # fine-tuning takes the model type from its base (checked there)
        _check_applies(cfg.model, explicit)
    return cfg


def _check_applies(model: str, explicit: set[str]) -> None:
    """An option of another model family, given on the command line or in a TOML file, is an error (not
    silently ignored): ``--heads`` with ``--model lstm``, ``--order`` with a network. ``--discount`` also
    sets the mixture's n-gram, so it applies to every model."""
    family_options = {k for kind in buildable_kinds() for k in model_class(kind).defaults} & set(FIELDS)
    own = set(model_class(model).defaults)
    for name in sorted((explicit & family_options) - own - {"styles", "discount"}):
        users = [k for k in buildable_kinds() if name in model_class(k).defaults]
        raise ConfigError(f"--{_flag(name)} is an option of --model {'/'.join(users)}, not of --model {model}")


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A validated :class:`TrainConfig` from option values (a checkpoint's stored configuration too)."""
    if not isinstance(values, dict):
        raise ConfigError("a training configuration must be a mapping of option names to values")
    return TrainConfig(**{k: _coerce(k, v) for k, v in values.items()}).validate()
