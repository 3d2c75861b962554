"""Options declared once: a dataclass field carries its default, help, limits and where it applies.

Every training option is a field of :class:`~namesmith.config.TrainConfig` and every
generation control a field of :class:`~namesmith.sample.SampleOptions`, each made by
:func:`option`. Everything that shows or checks an option reads that declaration:
the command line's flags and ``--help``, the TOML keys, the range checks and the resume
rules (training); the CLI's sample flags, the web API's request model and OpenAPI schema,
and the page's form (sampling). Where the web or the page should differ from the
Python API (a smaller ``n``, novel names by default) the declaration says so
(``web=``, ``page=``), in the same place.
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Callable

import numpy as np

from .errors import ConfigError

KINDS = ("int", "float", "bool", "text", "choice", "style")


class _Unset:
    def __repr__(self) -> str:
        return "unset"


UNSET = _Unset()  # an option with no "off" value


@dataclass(frozen=True)
class Spec:
    """What an option is, beyond its default: the help text, the limits, and the rules about it.

    ``lo``/``hi`` bound numbers (``hi_open``: ``hi`` itself is excluded; ``lo_open`` likewise);
    ``off`` is a value allowed outside them that turns the option off (``--ema 0``); ``longest``
    bounds text. ``flags`` are the command-line spellings (default ``--name-with-dashes``).
    ``web`` and ``page`` override the limits or default for the web API and its page.
    Training options also say whether ``--resume`` may change them (``resume``) and what fine-tuning
    takes from the base model (``finetune``: ``"architecture"`` or ``"regularizer"``).
    """

    help: str
    kind: str = ""  # filled from the field's type when empty
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    off: Any = UNSET
    longest: int | None = None
    choices: Callable[[], list[str]] | None = None
    flags: tuple[str, ...] = ()
    label: str = ""  # the page's label
    web: dict = field(default_factory=dict)
    page: dict = field(default_factory=dict)
    resume: bool = True  # True: --resume may change it
    finetune: str = ""
    cli: bool = True  # False: not a command-line flag (set by the CLI itself: corpus, -o, --preset)
    nullable: bool = False  # filled from the field's type: None is allowed (``int | None``)


def option(default, help: str, **spec) -> Any:
    """A dataclass field with its :class:`Spec` (``field(default=..., metadata={"spec": ...})``)."""
    return field(default=default, metadata={"spec": Spec(help, **spec)})


@functools.cache
def specs(cls) -> dict[str, tuple[Field, Spec]]:
    """``name -> (field, spec)`` of a declared options class, the spec's ``kind`` filled from the type."""
    out = {}
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        s = f.metadata.get("spec")
        if s is None:
            continue
        hint = hints[f.name]
        s = Spec(**{**s.__dict__, "kind": s.kind or _kind(hint, s),
                    "nullable": type(None) in typing.get_args(hint)})
        out[f.name] = (f, s)
    return out


def _kind(hint, s: Spec) -> str:
    args = set(typing.get_args(hint)) - {type(None)} or {hint}
    if s.choices is not None:
        return "choice"
    for t, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "text")):
        if t in args:
            return kind
    raise TypeError(f"no option kind for {hint!r}")


def optional(f: Field, s: Spec | None = None) -> bool:
    """None is a valid value: the field's default is None or its type says ``| None``."""
    return f.default is None or bool(s and s.nullable)


def is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def overrides(s: Spec, where: str) -> dict:
    """What the web API (``"web"``) or its page (``"page"``: the web's overrides, then its own) change."""
    return {"web": s.web, "page": {**s.web, **s.page}}.get(where, {})


def bounds(s: Spec, where: str = "") -> tuple[float | None, float | None]:
    """``(lo, hi)`` of an option, with the ``web``/``page`` overrides of ``where`` applied."""
    over = overrides(s, where)
    return over.get("lo", s.lo), over.get("hi", s.hi)


def describe_range(s: Spec, lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if s.lo_open else '['}{_num(lo)}, {_num(hi)}{')' if s.hi_open else ']'}"
    if lo is not None:
        return f"{'>' if s.lo_open else '>='} {_num(lo)}"
    return f"{'<' if s.hi_open else '<='} {_num(hi)}"


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else f"{x:,}".replace(",", "")


def check(name: str, f: Field, s: Spec, value) -> Any:
    """``value`` checked against its declaration (type, range, length, choices): a ConfigError naming ``name``."""
    if value is None:
        if optional(f, s):
            return None
        raise ConfigError(f"{name} cannot be empty (None)")
    if s.off is not UNSET and value == s.off and type(value) is type(s.off):
        return value
    kind = s.kind
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r:.40}")
    if kind == "int" and not is_int(value):
        raise ConfigError(f"{name} must be a whole number, got {value!r:.40}")
    if kind == "float" and not is_number(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r:.40}")
    if kind in ("text", "choice") and not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got {value!r:.40}")
    if kind == "choice" and value not in s.choices():
        raise ConfigError(f"{name} must be one of {', '.join(s.choices())}, got {value!r:.40}")
    if kind == "text" and s.longest is not None and len(value) > s.longest:
        raise ConfigError(f"{name} is longer than {s.longest} characters")
    if kind in ("int", "float") and (s.lo is not None or s.hi is not None):
        lo, hi = s.lo, s.hi
        bad = ((lo is not None and (value < lo or (s.lo_open and value == lo)))
               or (hi is not None and (value > hi or (s.hi_open and value == hi))))
        if bad:
            off = f" (or {s.off} for none)" if s.off is not UNSET else ""
            raise ConfigError(f"{name} must be {describe_range(s, lo, hi)}{off}, got {value!r:.40}")
    return value


def check_all(obj) -> None:
    """Every declared field of ``obj`` checked (a dataclass's ``__post_init__`` calls it)."""
    for name, (f, s) in specs(type(obj)).items():
        check(name, f, s, getattr(obj, name))


def schema(cls, where: str = "page") -> list[dict]:
    """The declared options as JSON-ready rows (name, kind, default, min, max, help, label, optional, hidden),
    with the ``web``/``page`` overrides of ``where`` applied: what the page builds its form from (a hidden one
    has no field; the page sends its default)."""
    rows = []
    for name, (f, s) in specs(cls).items():
        over = overrides(s, where)
        lo, hi = bounds(s, where)
        default = over.get("default", None if f.default is MISSING else f.default)
        rows.append({"name": name, "kind": s.kind, "default": default, "min": lo, "max": hi,
                     "exclusive_min": s.lo_open, "exclusive_max": s.hi_open, "optional": optional(f, s),
                     "longest": over.get("longest", s.longest), "help": s.help,
                     "label": s.label or name.replace("_", " "),
                     "choices": s.choices() if s.choices else None, "hidden": bool(over.get("hidden")),
                     **{k: v for k, v in over.items() if k in ("step", "widget", "group")}})
    return rows


def from_kwargs(cls, what: str, **kwargs):
    """``cls(**kwargs)``; an unknown keyword is a ConfigError naming every known one."""
    known = [n for n in specs(cls)]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ConfigError(f"unknown {what} option {unknown[0]!r}; the options are {', '.join(known)}")
    return cls(**kwargs)
