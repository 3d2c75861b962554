"""Training configuration: defaults < preset < TOML file (``--config``) < command line.

Every training option is a field of :class:`TrainConfig`; the CLI exposes each
one as ``--option-name`` and a TOML file may set any of them by field name
(``hidden = 256``). The resolved configuration is printed at the start of a run
and stored in every checkpoint.
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

from .errors import ConfigError


@dataclass
class TrainConfig:
    # ----- data
    corpus: str | None = None  # path or built-in corpus name; None = the default corpus
    val: str | None = None  # explicit validation file; else a split of the corpus
    val_fraction: float = 0.1
    keep_case: bool = False
    max_item_len: int = 64
    # ----- model
    model: str = "lstm"
    hidden: int = 256
    layers: int = 1
    embed: int = 32
    dropout: float = 0.25
    learn_h0: bool = False
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
    out: str = "model.npz"
    log_every: int = 100
    samples: int = 5  # names printed at each evaluation
    seed: int = 1337
    preset: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> "TrainConfig":
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(0.0 <= self.val_fraction < 1.0, f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        need(self.max_item_len >= 1, "--max-item-len must be >= 1")
        need(self.lr > 0, f"--lr must be > 0, got {self.lr}")
        need(self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}")
        need(self.clip in ("norm", "value", "none"), f"--clip must be norm, value or none, got {self.clip!r}")
        need(self.norm in ("mean", "batch"), f"--norm must be mean or batch, got {self.norm!r}")
        need(self.clip_value > 0, "--clip-value must be > 0")
        need(self.dtype in ("float32", "float64"), f"--dtype must be float32 or float64, got {self.dtype!r}")
        need(self.steps is None or self.steps >= 0, "--steps must be >= 0")
        need(self.epochs is None or self.epochs > 0, "--epochs must be > 0")
        need(self.time_limit is None or self.time_limit > 0, "--time-limit must be > 0 seconds")
        need(self.eval_every >= 1 and self.log_every >= 1, "--eval-every and --log-every must be >= 1")
        need(self.patience is None or self.patience >= 1, "--patience must be >= 1")
        need(0 <= self.samples <= 1000, "--samples must be in [0, 1000]")
        need(self.warmup >= 0, "--warmup must be >= 0")
        need(self.decay_steps is None or self.decay_steps >= 1, "--decay-steps must be >= 1")
        need(0 <= self.seed < 2**63, "--seed must be in [0, 2**63)")
        need(0 <= self.mix_ngram <= 10, "--mix-ngram must be an n-gram order in [1, 10], or 0 for none")
        need(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "--beta1/--beta2 must be in [0, 1)")
        return self


FIELDS = {f.name: f for f in fields(TrainConfig)}

# Options that define the model, the data or the optimizer: fixed once a run has started.
RESUME_FIXED = {
    "corpus", "val", "val_fraction", "keep_case", "max_item_len", "model", "hidden", "layers",
    "embed", "dropout", "learn_h0", "order", "discount", "dtype", "optimizer", "momentum",
    "beta1", "beta2", "eps", "weight_decay", "batch_size", "bucket", "norm", "seed", "preset",
}


# Presets: measured in BENCHMARKS.md. The field defaults above are the "default" preset:
# the best model that trains within 3 minutes on 2 CPU cores (about 2 minutes measured).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {  # about 15 seconds (12 s measured on names-ssa2018)
        "model": "gru", "hidden": 128, "embed": 32, "dropout": 0.1, "batch_size": 32, "lr": 3e-3,
        "steps": 3000, "eval_every": 250, "patience": 8, "mix_ngram": 5,
    },
    "best": {  # under 10 minutes (389 s measured, early-stopped)
        "model": "lstm", "hidden": 512, "embed": 64, "dropout": 0.35, "batch_size": 128, "lr": 2e-3,
        "steps": 6000, "eval_every": 200, "patience": 10, "mix_ngram": 6,
    },
}


def _coerce(name: str, value: Any) -> Any:
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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"option {name} must be a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"option {name} must be a string, got {value!r}")
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such configuration file") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not a valid TOML file: {e}") from None
    # allow a [train] table or top-level keys
    table = data.get("train", data) if isinstance(data.get("train"), dict) else data
    return {k.replace("-", "_"): v for k, v in table.items()}


def resolve(cli: dict[str, Any], config_file: str | None = None, base: dict[str, Any] | None = None) -> TrainConfig:
    """Merge defaults < ``base`` < preset < TOML file < ``cli`` into a validated :class:`TrainConfig`."""
    file_values = load_toml(config_file) if config_file else {}
    merged: dict[str, Any] = dict(base or {})
    preset = cli.get("preset", file_values.get("preset", merged.get("preset")))
    preset = "default" if preset is None else preset
    if preset not in PRESETS:
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
    values = {k: _coerce(k, v) for k, v in merged.items()}
    return TrainConfig(**values).validate()
