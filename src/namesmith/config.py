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
from .options import UNSET, check, option, specs

MAX_TOML_BYTES = 1 << 20
MAX_SEED = 2**63 - 1
CLIP_MODES = ("norm", "value", "none")
NORMS = ("mean", "batch")


def choices() -> dict[str, list[str]]:
    """The allowed values of every option that has a fixed list (read from the declarations)."""
    return {name: s.choices() for name, (f, s) in specs(TrainConfig).items() if s.choices is not None}


def _models() -> list[str]:
    return buildable_kinds()


FIXED = {"resume": False}  # a run that has started keeps this option (--resume refuses to change it)
ARCH = {"resume": False, "finetune": "architecture"}  # fine-tuning takes it from the base model, never the user
REG = {"resume": False, "finetune": "regularizer"}  # fine-tuning takes it from the base unless the user gives it
MODEL_RANGE = "its range is the model's (checked by the model class)"


@dataclass
class TrainConfig:
    """Every training option, declared once (:func:`namesmith.options.option`): the CLI's ``--flags`` and
    their help, the TOML keys, the range checks, the resume and fine-tuning rules all come from here."""

    # ----- data
    corpus: str | None = option(None, "a corpus file, a folder of STYLE.txt files or a built-in corpus's name "
                                      "(default: the built-in given names)", cli=False, **FIXED)
    val: str | None = option(None, "validation file (default: a --val-fraction split of the corpus)", **FIXED)
    val_fraction: float = option(0.1, "share of the corpus held out for validation", lo=0, hi=1, hi_open=True,
                                 **FIXED)
    folds: int = option(1, "cross-validation bagging: train K networks, each early-stopped on its own 1/K of the "
                           "names (replaces --val-fraction), and average them with an n-gram of all the names, the "
                           "weights fitted on the names each network did not see (the finetune preset uses 4)",
                        lo=1, hi=7, **FIXED)
    ensemble: int = option(1, "train N networks on the same split (seeds SEED, SEED+1, ...) and mix them with the "
                              "n-gram, the weights fitted on the validation names (the best preset uses 2)",
                           lo=1, hi=8, **FIXED)
    jobs: int | None = option(None, "--folds/--ensemble: networks trained at once, each in its own process with its "
                                    "share of the cores (default: one per core)", lo=1, hi=64)
    val_max: int = option(10_000, "at most this many names in a --val-fraction split (enough for the NLL to about "
                                  "0.003 nats/char; evaluations stay cheap on a million names)", lo=1, hi=10_000_000,
                          **FIXED)
    keep_case: bool = option(False, "keep upper case (the default lowercases, as the notebook does)", **FIXED)
    max_item_len: int = option(64, f"refuse corpus items longer than this (at most {LONGEST_NAME})", lo=1,
                               hi=LONGEST_NAME, **FIXED)
    # ----- model
    model: str = option("lstm", "model type", choices=_models, **ARCH)
    hidden: int = option(256, f"hidden units per layer (transformer: each block's MLP width); {MODEL_RANGE}", **ARCH)
    layers: int = option(1, "stacked layers (recurrent layers, transformer blocks, MLP hidden layers)", **ARCH)
    embed: int = option(32, "embedding size (0 = one-hot input, as the notebook; recurrent models)", **ARCH)
    dropout: float = option(0.25, "dropout between layers and before the output (training only)", **REG)
    learn_h0: bool = option(False, "learn the initial hidden state (recurrent models)", **ARCH)
    variational: bool = option(False, "recurrent models: one dropout mask per name for all its positions", **REG)
    weight_drop: float = option(0.0, "recurrent models: drop this share of the recurrent weights, one mask per "
                                     "batch (DropConnect)", **REG)
    heads: int = option(4, "transformer: attention heads (--embed must be a multiple)", **ARCH)
    block: int | None = option(None, "transformer: positions with their own embedding, the attention window "
                                     "(default 16); mlp: how many previous characters it reads (default 8)", **ARCH)
    tie: bool = option(False, "transformer: the output layer shares the token embedding's weights", **ARCH)
    style_dropout: float = option(0.1, "labelled corpora: share of names trained as 'any style', so the model also "
                                       "gives the pooled distribution", lo=0, hi=1, **REG)
    style_balance: float = option(1.0, "labelled corpora: each epoch draws the names of a style with n names in "
                                       "proportion to n ** B (1 = as in the corpus, 0 = every style equally often)",
                                  lo=0, hi=1, **FIXED)
    order: int = option(6, "n-gram order (for --model ngram)", **FIXED)
    discount: float | None = option(None, "n-gram Kneser-Ney discount (default: estimated from the counts)", lo=0,
                                    hi=1, lo_open=True, hi_open=True, **FIXED)
    mix_ngram: int = option(6, "after training, interpolate the model with a Kneser-Ney n-gram of this order, "
                               "weights fitted on the validation names", lo=1, hi=10, off=0)
    dtype: str = option("float32", "float32 (fast) or float64 (exact)", choices=lambda: list(DTYPES), **ARCH)
    # ----- optimisation
    optimizer: str = option("adam", "optimizer", choices=lambda: list(OPTIMIZERS), **FIXED)
    lr: float = option(3e-3, "learning rate", lo=0, lo_open=True)
    momentum: float = option(0.9, "momentum (for --optimizer momentum)", lo=0, hi=1, hi_open=True, **FIXED)
    beta1: float = option(0.9, "Adam beta1", lo=0, hi=1, hi_open=True, **FIXED)
    beta2: float = option(0.99, "Adam beta2", lo=0, hi=1, hi_open=True, **FIXED)
    eps: float = option(1e-8, "Adam/Adagrad epsilon", lo=0, hi=1, lo_open=True, **FIXED)
    weight_decay: float = option(0.0, "weight decay (L2 for sgd/momentum/adam, decoupled for adamw)", lo=0, hi=10,
                                 **FIXED)
    clip: str = option("norm", "gradient clipping: norm (global L2 norm), value (elementwise, the notebook's) or none",
                       choices=lambda: list(CLIP_MODES))
    clip_value: float = option(5.0, "the clipping threshold", lo=0, hi=1e6, lo_open=True)
    schedule: str = option("cosine", "learning-rate schedule", choices=lambda: list(SCHEDULES))
    warmup: int = option(0, "linear warm-up steps", lo=0, hi=10**9)
    decay_every: int = option(1000, "steps between decays (--schedule step)", lo=1, hi=10**9)
    decay_steps: int | None = option(None, "length of the cosine/linear decay in steps (default: the run's --steps; "
                                           "set it to resume a shorter run into a longer one bit for bit)", lo=1,
                                     hi=10**9)
    gamma: float = option(0.5, "decay factor (--schedule step)", lo=0, hi=1, lo_open=True)
    min_lr: float = option(0.0, "final learning rate (--schedule cosine/linear), at most --lr", lo=0)
    ema: float = option(0.0, "evaluate and keep an exponential moving average of the weights with this decay (the "
                             "default and best presets use 0.999); at step t the decay is min(D, (1+t)/(10+t)), so "
                             "the average spans about t/9 steps until D takes over (0.999: after step 9,000)",
                        lo=0.5, hi=1, hi_open=True, off=0.0, **FIXED)
    batch_size: int = option(64, "names per batch", lo=1, hi=65_536, **FIXED)
    bucket: bool = option(True, "group names of similar length into batches (less padding)", **FIXED)
    norm: str = option("mean", "loss weight per character: 'mean' divides each batch's summed NLL by its expected "
                               "number of characters (unbiased with length buckets), 'batch' by its actual number",
                       choices=lambda: list(NORMS), **FIXED)
    # ----- stopping and evaluation
    steps: int | None = option(9000, "stop after this many optimizer steps in total (counted across resumes)", lo=0,
                               hi=10**9)
    epochs: float | None = option(None, "stop after this many passes over the training names", lo=0, hi=1e6,
                                  lo_open=True)
    time_limit: float | None = option(None, "stop after this many seconds of this run", lo=0, hi=1e7, lo_open=True)
    eval_every: int = option(250, "evaluate on the validation names every N steps", lo=1, hi=10**9)
    eval_epochs: float | None = option(None, "evaluate at least every this many epochs (passes over the training "
                                             "names), when that is fewer steps than --eval-every: a small list's "
                                             "cadence and patience in epochs (the default and finetune presets: "
                                             "4; a given --eval-every alone turns it off)", lo=0, hi=1e6,
                                    lo_open=True, off=0.0)
    patience: int | None = option(10, "stop early after N evaluations without improvement", lo=1, hi=10**6, off=0)
    # ----- output
    out: str | None = option(None, "where the best model goes (the CLI's default: model.npz); None: write nothing",
                             cli=False)
    log_every: int = option(100, "log the training loss every N steps", lo=1, hi=10**9)
    samples: int = option(5, "names printed at each evaluation", lo=0, hi=1000)
    seed: int = option(1337, "random seed (the same seed gives the same run)", lo=0, hi=MAX_SEED, **FIXED)
    preset: str | None = option(None, "a named configuration", cli=False, **FIXED)
    init_from: str | None = option(None, "fine-tune: start from this trained model (a .npz or a shipped model's "
                                         "name) and adapt it to CORPUS; new characters and styles are added, its "
                                         "architecture is kept; preset 'finetune'", **FIXED)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def model_config(self, vocab_size: int, styles: int = 0, factors: list[int] | None = None) -> dict:
        """The model's own configuration: the fields its class declares, plus the vocabulary size, dtype and,
        for a labelled corpus, the number of styles and of each further factor's values (for the classes that
        take them)."""
        cls = model_class(self.model)
        values = {**self.to_dict(), "styles": styles, "factors": list(factors) if factors else None}
        own = {k: values[k] for k in cls.defaults if values.get(k) is not None}  # None: the model's default
        return {**own, "vocab_size": vocab_size, "dtype": self.dtype}

    def validate(self) -> "TrainConfig":
        for name, (f, s) in specs(TrainConfig).items():
            value = check(name, f, s, getattr(self, name))
            if s.kind == "float" and value is not None:
                setattr(self, name, float(value))
        _cross_checks(self)
        model_class(self.model).check_config(self.model_config(vocab_size=2))
        return self


def _cross_checks(c: TrainConfig) -> None:
    """The rules that tie two options together (each option's own range is in its declaration)."""
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ConfigError(msg)

    need(c.folds == 1 or c.val is None, "--folds holds out its own validation names; leave out --val")
    need(c.min_lr <= c.lr, f"min_lr must be at most lr ({c.lr:g}), got {c.min_lr:g}")
    need(c.steps is None or c.warmup < max(c.steps, 1),
         f"warmup ({c.warmup} steps) must be shorter than the run (steps {c.steps})")
    for name in ("out", "val", "init_from", "corpus"):
        need(getattr(c, name) is None or bool(getattr(c, name)),
             f"{name} is empty; give a file name (or leave it out)")


FIELDS = {f.name: f for f in fields(TrainConfig)}
SAME_SPLIT = ("corpus", "val", "val_fraction", "val_max", "seed", "keep_case", "max_item_len")  # one split
SPECS = specs(TrainConfig)
RESUME_FIXED = {name for name, (f, s) in SPECS.items() if not s.resume}  # --resume cannot change these
ARCHITECTURE = tuple(name for name, (f, s) in SPECS.items() if s.finetune == "architecture")  # from the base
REGULARIZERS = tuple(name for name, (f, s) in SPECS.items() if s.finetune == "regularizer")  # the base's, or given


# Presets: measured in BENCHMARKS.md. The field defaults above, with the "default" entry's changes, are the
# default preset: the best model that trains within about 2 minutes on 2 CPU cores (107 s measured with 0.8.1).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {  # --ema: the weights' moving average (1.8717 against 1.8731 without); --embed 64 rather than
        # 32: test 1.8636 / 1.8609 against 1.8717 / 1.8660 for seeds 1337 / 1338, validation better too (128: no
        # better than 64); patience 4: patience 10 spent a third of the run (2,500 steps) after the best validation
        "ema": 0.999, "embed": 64, "patience": 4,
        # evaluated at least every 4 epochs (issue 30, benchmarks/finetune_time.py --scratch): 200 dinosaurs from
        # scratch were evaluated every 83 epochs; 36.8 s -> 5.1 s at -0.018 nats/char; the built-in corpus (574
        # steps an epoch) keeps every 250 steps
        "eval_epochs": 4,
    },
    "fast": {  # about 15 seconds (12 s measured on names-ssa2018)
        "model": "gru", "hidden": 128, "embed": 32, "dropout": 0.1, "batch_size": 32, "lr": 3e-3,
        "steps": 3000, "eval_every": 250, "patience": 8, "mix_ngram": 5,
    },
    "finetune": {  # --init-from: a small list adapts a trained network (the architecture comes from it);
        # folds, each network early-stopped on its own share of the list, averaged with a 4-gram of all of it
        # (benchmarks/finetune_dev.py, lists of 50 and 200 names of two styles the base never saw: mean NLL
        # 2.2040 against 2.2717 for one network validated on 20% at lr 1e-3, -3.0%; with the base's n-gram of
        # the style the list sounds like in the mixture (api._Base.ngram), 2.1723, -1.4% more)
        # issue 30 (benchmarks/finetune_time.py, BENCHMARKS "Time to a fine-tuned model"): evaluated every
        # 4 epochs, patience 3 (12 epochs; a 48-name fold evaluated every 50 steps = 33 epochs ran 300 steps, two
        # thirds of its time, after its best), lr 2e-3 (5e-4 needed ~150 steps to its best), 4 folds (5 on 2 cores
        # left one core idle for the fifth): 60 dinosaurs from given-names 27.5 s -> 3.9 s at -0.0076 nats/char
        "lr": 2e-3, "steps": 1500, "eval_every": 50, "eval_epochs": 4, "patience": 3, "batch_size": 32,
        "val_fraction": 0.2, "schedule": "constant", "mix_ngram": 4, "folds": 4,
    },
    "best": {  # under 10 minutes on 2 cores (514-570 s measured): two LSTMs side by side, one per core, mixed with
        # the 6-gram: 1.8455 against 1.8518 for one of them (its best validation at step 2,600 of 4,600, so
        # half of the 10 minutes went to waiting for patience 10); --ema: 1.8518 against 1.8573 without
        "model": "lstm", "hidden": 512, "embed": 64, "dropout": 0.35, "batch_size": 128, "lr": 2e-3,
        "steps": 6000, "eval_every": 200, "patience": 3, "mix_ngram": 6, "ema": 0.999, "ensemble": 2,
    },
}


def _coerce(name: str, value: Any) -> Any:
    """``value`` checked against the declaration of option ``name``; an unknown option is a ConfigError."""
    if name not in SPECS:
        raise ConfigError(f"unknown training option {name!r}")
    f, s = SPECS[name]
    value = check(name, f, s, value)
    if value is None:
        return None
    # NumPy scalars pass the checks (is_int/is_number) but become plain Python numbers: the configuration is JSON
    return float(value) if s.kind == "float" else int(value) if s.kind == "int" else value


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
    if "eval_every" in explicit and "eval_epochs" not in explicit:
        merged["eval_epochs"] = None  # an explicit step cadence replaces the preset's cadence in epochs
    for name, (_, spec) in SPECS.items():  # --patience 0, --eval-epochs 0: an "off" value that may be None is None
        if spec.off is not UNSET and spec.nullable and merged.get(name) is not None and merged[name] == spec.off:
            merged[name] = None
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
        raise ConfigError(f"--{name.replace('_', '-')} is an option of --model {'/'.join(users)}, "
                          f"not of --model {model}")


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A validated :class:`TrainConfig` from option values (a checkpoint's stored configuration too)."""
    if not isinstance(values, dict):
        raise ConfigError("a training configuration must be a mapping of option names to values")
    return TrainConfig(**{k: _coerce(k, v) for k, v in values.items()}).validate()
