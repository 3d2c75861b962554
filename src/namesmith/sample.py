"""Generating names through ``model.step()``: vectorised, exact where it can be, reproducible.

All candidate names advance together as one batch: one ``step()`` (one matrix
product per layer) per character for the whole batch; rows that emitted the
end token drop out of the batch. Constraints are applied in two ways:

* exactly, by masking the next-character distribution before drawing:
  ``min_len`` (end token masked while the name is too short), ``max_len`` (end
  token forced at the limit), ``exclude_chars`` / ``only_chars``, the
  ``prefix`` (fed through the model first, teacher-forced), and the decoding
  rules of :mod:`namesmith.decoding` (``temperature``, ``top_k``, ``top_p``);
* by rejection, with a budget of ``max_tries`` candidates and a clear error
  when it runs out: ``suffix``, ``contains``, ``pattern`` (a regular expression
  in Python's syntax searched in the name, by the ``regex`` package with a time
  limit per name, so a pattern that backtracks catastrophically is an error, not
  a hang), ``novel`` (not a training name, checked against the hashes stored in
  the checkpoint, plus any ``exclude`` names) and ``unique``.

Every control is a field of :class:`SampleOptions`, declared once with its help and
limits (:mod:`namesmith.options`): the command line, the web API and its page read them
from there. Each candidate name has its own seed and draws its randomness from a
counter-based stream (:mod:`namesmith.rng`), so a name can be regenerated from its seed
alone: ``sample(n=1, seed=<its seed>)`` with the same options returns it. Every name's
``logprob`` is its natural-log probability under the model itself (temperature 1, no
masks), end token included: the number ``score`` reports. :meth:`Sampler.best` returns
the K most probable names exactly (:mod:`namesmith.kbest`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import regex

from .corpus import LONGEST_NAME, in_hashes
from .decoding import next_symbols
from .errors import ConfigError, ConstraintError, NamesmithError
from .kbest import search
from .keys import key_seed
from .models.base import Model, State, StepFn
from .models.layers import log_softmax
from .offensive import MODES, rejects as offensive_rejects
from .options import check_all, from_kwargs, option
from .realwords import LANGUAGES as WORD_LANGUAGES, common_word, corpus_choices, real_names_of
from .rng import SEED_MASK, child_seeds, fresh_seed
from .text import capitalised, fold_accents, normalize
from .vocab import Vocab

MAX_BATCH = 4_096  # candidates generated at once: memory stays flat for any n (LSTM-256: about 30 MB)
PATTERN_SECONDS = 0.05  # the most one name may take to match --pattern (a legitimate one takes microseconds)
MAX_LEN = 32  # the default longest name: the CLI, the Python API, the web API and the page alike
WEB_TEXT = 64  # the web API's bound on every text option


def candidate_budget(n: int) -> int:
    """The default number of candidates the rejection filters may draw for ``n`` names."""
    return 100 * n + 1000


def option_kwargs(opts: "SampleOptions") -> dict:
    """Every option of ``opts`` by name: what ``Checkpoint.sample(**option_kwargs(opts))`` takes back."""
    return {name: getattr(opts, name) for name in opts.__dataclass_fields__}


FACTOR_OPTIONS = ("kind", "sex")  # the SampleOptions fields that name a further factor of a model (a column)


@dataclass(frozen=True)
class SampleOptions:
    """Every generation control, declared once; every value is type- and range-checked on construction.

    ``web=`` and ``page=`` are where the web API (its request model, ``/openapi.json``) and its
    page differ from the Python API and the command line, which share every default.
    """

    n: int = option(10, "how many names", lo=0, hi=10**7, flags=("-n", "--num"), label="How many",
                    web={"lo": 1, "hi": 500}, page={"default": 20, "group": "main"})
    temperature: float = option(1.0, "0 = the most likely letter only; below 1 safer, above 1 wilder", lo=0, hi=100,
                                flags=("-t", "--temperature"), label="Temperature", web={"hi": 5},
                                page={"hi": 2, "step": 0.05, "widget": "range", "group": "main"})
    top_k: int | None = option(None, "draw only from the K most likely characters", lo=1, hi=10**6, label="Top-k",
                               web={"hi": 1000})
    top_p: float | None = option(None, "draw only from the smallest set of characters with this share of the "
                                       "probability", lo=0, hi=1, lo_open=True, label="Top-p", page={"step": 0.01})
    prefix: str = option("", "every name starts with this (exact)", longest=LONGEST_NAME, label="Starts with",
                         web={"longest": WEB_TEXT}, page={"group": "main"})
    suffix: str = option("", "every name ends with this (by rejection)", longest=LONGEST_NAME, label="Ends with",
                         web={"longest": WEB_TEXT}, page={"group": "main"})
    contains: str = option("", "every name contains this (by rejection)", longest=LONGEST_NAME, label="Contains",
                           web={"longest": WEB_TEXT}, page={"group": "main"})
    pattern: str | None = option(None, "every name matches this regular expression (Python syntax, searched)",
                                 longest=LONGEST_NAME, label="Matches (regular expression)",
                                 web={"longest": WEB_TEXT})
    min_len: int = option(1, "the shortest name, in characters (exact)", lo=0, hi=LONGEST_NAME, label="Min length",
                          web={"hi": WEB_TEXT}, page={"default": 3, "group": "main"})
    max_len: int = option(MAX_LEN, "the longest name, in characters (exact)", lo=1, hi=LONGEST_NAME,
                          label="Max length", web={"hi": WEB_TEXT}, page={"group": "main"})
    exclude_chars: str = option("", "never use these characters", longest=LONGEST_NAME, label="Never use",
                                web={"longest": 200})
    only_chars: str | None = option(None, "use only these characters", longest=LONGEST_NAME, label="Use only",
                                    web={"longest": 200})
    novel: bool = option(False, "only names that are not in the training list", label="New names only",
                         page={"default": True, "group": "checks"})
    unique: bool = option(False, "no name twice", label="No duplicates", page={"default": True, "group": "checks"})
    offensive: str = option("block", "offensive names: 'block' rejects a listed word of 24 languages (also in "
                                     "leetspeak, with accents or repeated letters) and an obscenity inside a name, "
                                     "but lets real names such as Dick pass; 'strict' rejects those too; 'allow' "
                                     "checks nothing", choices=lambda: list(MODES), label="Offensive names")
    no_words: str | None = option(None, "reject names that are common words of this language (wordfreq: at least "
                                        "once per million words; e.g. en), for names new to the world",
                                  choices=lambda: list(WORD_LANGUAGES), label="Not a common word of",
                                  page={"hidden": True})
    no_real: str | None = option(None, "reject names found in this built-in corpus ('all': in any), not only in the "
                                       "training list", choices=corpus_choices, label="Not a real name of",
                                 page={"hidden": True})
    fold_accents: bool = option(False, "read accented letters the model never saw as plain ones (ë as e) in the "
                                       "prefix, suffix and contains text", label="Fold accents",
                                page={"default": True, "hidden": True})
    max_tries: int | None = option(None, "the candidates the rejection filters may draw (default 100 n + 1000)",
                                   lo=1, hi=10**9, label="Max tries", web={"hi": 20_000})
    seed: int | None = option(None, "seed for reproducible names (each name's own seed regenerates it)", lo=0,
                              hi=SEED_MASK, label="Seed")
    key: str | None = option(None, "a key (a user or NPC id, any text): the same key, model and options give the "
                                   "same name on every machine; the seed is made from the key and the model "
                                   "(namesmith.keys)", longest=1000, label="Key", web={"longest": 200})
    best: int | None = option(None, "the K most probable names instead of random ones", lo=1, hi=10**5,
                              label="Most probable", web={"hi": 100}, page={"hidden": True})
    like: str | None = option(None, "names you like, separated by commas: new names close to them, drawn in the "
                                    "styles they sound like and ranked by closeness and plausibility",
                              longest=1000, label="Like these names",
                              web={"longest": 400}, page={"group": "main"})
    style: str | Mapping | None = option(None, "a style of a model trained on a labelled corpus, or a blend "
                                               "'Italian=0.7,Spanish=0.3' (default: all styles pooled)",
                                         kind="style", label="Style", page={"hidden": True})
    # default 0.5, measured (benchmarks/style_guidance.py, BENCHMARKS.md "Style guidance"): on the world model
    # 30 of 35 styles reach a fidelity of 0.9 (5 without guidance) at the same NLL of real names (+0.001)
    any_char: bool = option(False, "a model fine-tuned on an unlabelled list samples only the characters of "
                                   "that list, unless this is set (or a style is asked for)",
                            label="Any character", page={"hidden": True})
    full: bool = option(False, "full names: a given name and a surname of the same style and sex, in the "
                               "culture's usual order (family name first for Chinese, Japanese, Korean, "
                               "Vietnamese, Hungarian), for a model with a kind factor such as world",
                        label="Full names", page={"group": "style"})
    kind: str | None = option(None, "the kind of name, for a model trained with a kind column: 'given' or "
                                    "'surname' on the world model (default: either)", longest=64, label="Kind",
                              page={"group": "style", "widget": "factor"})
    sex: str | None = option(None, "the sex of a given name, for a model trained with a sex column: 'female', "
                                   "'male' or 'unisex' on the world model (default: any)", longest=64,
                             label="Sex", page={"group": "style", "widget": "factor"})
    style_strength: float = option(0.5, "style guidance: each letter drawn from P_style^(1+g) / P_pooled^g, so "
                                        "names sound like their style more than like names in general (0: the "
                                        "style as trained; above 1, caricatures)", lo=0, hi=10,
                                   label="Style strength", page={"step": 0.1, "group": "style"})

    def __post_init__(self):
        check_all(self)
        if self.min_len > self.max_len:
            raise ConfigError(f"min_len ({self.min_len}) is larger than max_len ({self.max_len})")
        if self.like is not None and self.best is not None:
            raise ConfigError("give like or best, not both (like ranks its own candidates by closeness)")
        if self.key is not None and (self.seed is not None or self.best is not None):
            raise ConfigError("give a key or a seed, not both (a key makes the seed); the most probable names "
                              "(best) take neither")
        if self.full and (self.best is not None or self.like is not None or self.key is not None):
            raise ConfigError("full names take a seed, not best, like or a key (each part is drawn on its own)")
        if self.style is not None and not isinstance(self.style, (str, Mapping)):
            raise ConfigError(f"style must be a style's name, 'A=0.7,B=0.3' or a mapping of style to weight, "
                              f"not {type(self.style).__name__}")

    def factor_values(self) -> dict[str, str]:
        """The further factors asked for (``{"kind": "given"}``): the factor options that are set."""
        return {name: getattr(self, name) for name in FACTOR_OPTIONS if getattr(self, name) is not None}

    @classmethod
    def from_kwargs(cls, **options) -> "SampleOptions":
        """Options by keyword; an unknown keyword is a ConfigError listing the known ones."""
        return from_kwargs(cls, "sampling", **options)

    @property
    def filtering(self) -> bool:
        """Whether candidates can be rejected (so more than ``n`` may be drawn)."""
        return bool(self.suffix or self.contains or self.pattern or self.novel or self.unique or self.no_words
                    or self.no_real)

    @property
    def budget(self) -> int:
        return self.max_tries if self.max_tries is not None else candidate_budget(self.n)


@dataclass(slots=True)
class Sample:
    name: str  # as the model writes it (lowercase for the built-in corpora)
    logprob: float  # natural log, end token included
    nats_per_char: float  # -logprob / (len(name) + 1)
    novel: bool | None  # None when the model file has no record of its training names
    seed: int | None  # regenerates the name (None for the k most probable names: no randomness)
    display: str = ""  # the name as printed: each part capitalised, unless the model keeps case

    def to_dict(self) -> dict:
        # built directly: dataclasses.asdict deep-copies and costs more than generating the name
        return {"name": self.name, "display": self.display, "logprob": self.logprob,
                "nats_per_char": self.nats_per_char, "novel": self.novel, "seed": self.seed}


@dataclass
class Samples:
    """The names of one call, and how they were found. A list of :class:`Sample` to iterate, index and count."""

    names: list[Sample]  # empty when they were streamed to ``emit``
    tries: int = 0  # candidates generated
    seed: int | None = None  # the run's seed (name 0's seed); None for the k most probable
    rejected: dict[str, int] = field(default_factory=dict)  # candidates each filter rejected
    accepted: int = 0  # names found (== len(names) unless streamed)
    steered: dict[str, float] | None = None  # with ``like``: the blend of styles the names were drawn under

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i):
        return self.names[i]

    @property
    def acceptance(self) -> float:
        return self.accepted / self.tries if self.tries else 0.0


class Pattern:
    """A user's regular expression, searched with a bounded amount of work per name.

    The ``regex`` package (Python's ``re`` syntax) with a timeout of ``PATTERN_SECONDS``
    per name: a pattern that backtracks catastrophically (``^(a|aa)+b$`` on 30 a's)
    is refused with one line instead of running for hours. Together with the
    candidate budget this bounds the whole filter.
    """

    def __init__(self, text: str):
        self.text = text
        try:
            self.rx = regex.compile(text)
        except (regex.error, RecursionError, OverflowError, ValueError) as e:
            raise ConfigError(f"the pattern is not a valid regular expression: {e}") from None

    def search(self, name: str) -> bool:
        try:
            return self.rx.search(name, timeout=PATTERN_SECONDS) is not None
        except TimeoutError:
            raise ConstraintError(f"the pattern {self.text!r} took over {PATTERN_SECONDS:g} s to match one name: it "
                                  "backtracks catastrophically (nested repeats such as (a|aa)+); simplify it") from None


@dataclass(frozen=True)
class Prepared:
    """Options turned into what generation needs: normalised texts, the allowed characters, the filter."""

    opts: SampleOptions
    prefix: str
    suffix: str
    contains: str
    pattern: Pattern | None
    allowed: np.ndarray  # (V,) bool, which characters may be drawn (the end token is governed by lengths)

    def __post_init__(self):  # the word and real-name checks fail here, once, when they cannot run
        if self.opts.no_words is not None:
            common_word(self.opts.no_words)
        if self.opts.no_real is not None:
            real_names_of(self.opts.no_real)

    def rejects(self, name: str, known: bool | None, seen: set[str]) -> str | None:
        """Why a complete name fails the rejection filters (None: it passes). Shared by sample and best."""
        if self.suffix and not name.endswith(self.suffix):
            return "suffix"
        if self.contains and self.contains not in name:
            return "contains"
        if self.pattern is not None and not self.pattern.search(name):
            return "pattern"
        if self.opts.offensive != "allow" and offensive_rejects(name, self.opts.offensive, bool(known)):
            return "offensive"
        if self.opts.no_words is not None and common_word(self.opts.no_words)(name):
            return "word"
        if self.opts.no_real is not None and name.lower() in real_names_of(self.opts.no_real):
            return "real"
        if self.opts.novel and known:
            return "known"
        if self.opts.unique and name in seen:
            return "duplicate"
        return None


class Fed(NamedTuple):
    """The model after ``<s>`` and the prefix were fed once."""

    before_last: State  # the state before the last fed symbol (k-best expands from there)
    last: int  # that symbol
    logits: np.ndarray  # (1, V) after every fed symbol
    state: State  # after every fed symbol
    logprob: float  # of the prefix


def feed(model: Model, step: StepFn, prefix_ids: np.ndarray) -> Fed:
    """Feed ``<s>`` and the prefix through the model (the one prefix-feeding path of sampling and k-best)."""
    fed = [0, *map(int, prefix_ids)]
    state = before = model.initial_state(1)
    logits, lp = None, 0.0
    with np.errstate(all="ignore"):
        for i, c in enumerate(fed):
            before = state
            logits, state = step(np.array([c], dtype=np.int32), state)
            if i + 1 < len(fed):
                lp += float(log_softmax(logits)[0, fed[i + 1]])
    return Fed(before, fed[-1], logits, state, lp)


def run_seed(opts: SampleOptions, digest: str | None) -> int:
    """A run's seed: the given one, the key's for the model with ``digest`` (namesmith.keys), or a fresh one."""
    if opts.key is None:
        return fresh_seed() if opts.seed is None else opts.seed
    if digest is None:
        raise ConfigError("a key needs the model's digest: sample through a loaded model (namesmith.load)")
    return key_seed(opts.key, digest)


class OutOfTime(ConstraintError):
    """The request's time budget ran out during generation."""


def _deadline_passed(deadline: float | None, found: int, n: int, tries: int) -> OutOfTime | None:
    if deadline is None or time.perf_counter() <= deadline:
        return None
    return OutOfTime(f"found only {found} of {n} names before the time budget ran out "
                     f"({tries} candidates tried); loosen the constraints")


def non_finite() -> NamesmithError:
    return NamesmithError("the model gives non-finite probabilities (its weights overflow); "
                          "this model file cannot be used")


class Sampler:
    """Generates names from one model. Thread-safe: it keeps no state between calls."""

    def __init__(self, model: Model, vocab: Vocab, *, known_hashes: np.ndarray | None = None,
                 exclude: set[str] | frozenset[str] = frozenset(), lowercase: bool | None = None,
                 alphabet: str | None = None, digest: str | None = None):
        if not isinstance(model, Model) or not isinstance(vocab, Vocab):
            raise ConfigError("a Sampler needs a namesmith model and its Vocab")
        if vocab.size != model.vocab_size:
            raise ConfigError(f"the vocabulary has {vocab.size} symbols but the model {model.vocab_size}")
        self.model, self.vocab, self.known_hashes = model, vocab, known_hashes
        self.exclude = frozenset(exclude)
        self.alphabet = alphabet  # the characters it samples unless any_char, a style or only_chars is given
        self.digest = digest  # the model's digest (namesmith.keys), which turns a key into a seed
        # user text is lowercased when the model's alphabet has no upper case (the default corpora)
        self.lowercase = vocab.caseless if lowercase is None else lowercase

    # ----- option handling ------------------------------------------------
    def normalize(self, text: str, fold: bool = False) -> str:
        text = normalize(text, self.lowercase)
        return fold_accents(text, self.vocab) if fold else text

    def prepare(self, opts: SampleOptions) -> Prepared:
        """Check ``opts`` against this model's alphabet and knowledge; raises ConfigError/VocabError."""
        if not isinstance(opts, SampleOptions):
            raise ConfigError(f"options must be SampleOptions, got {type(opts).__name__}")
        v = self.vocab
        prefix, suffix, contains = (self.normalize(s, opts.fold_accents) for s in (opts.prefix, opts.suffix,
                                                                                   opts.contains))
        for text, what in ((prefix, "prefix"), (suffix, "suffix"), (contains, "contains text")):
            v.check(text, what, hint="; fold_accents reads accented letters as plain ones")
        allowed = self._allowed(opts)
        for text, what in ((prefix, "prefix"), (suffix, "suffix"), (contains, "contains text")):
            bad = sorted({c for c in text if not allowed[v.index(c)]})
            if bad:
                raise ConfigError(f"the {what} {text!r} uses characters excluded by the character limits: {bad}"
                                  + ("; this model samples its list's characters unless any_char is set"
                                     if self.alphabet is not None and opts.only_chars is None else ""))
        if len(prefix) > opts.max_len:
            raise ConfigError(f"the prefix is {len(prefix)} characters, longer than max_len {opts.max_len}")
        if len(suffix) > opts.max_len or len(contains) > opts.max_len:
            raise ConfigError("the suffix or contains text is longer than max_len")
        if not allowed.any() and opts.min_len > len(prefix):
            raise ConfigError("no character is allowed, so no name can reach min_len")
        if opts.novel and self.known_hashes is None and not self.exclude:
            raise ConfigError("novel-only needs the training names, and this model file has no record of them")
        return Prepared(opts, prefix, suffix, contains, Pattern(opts.pattern) if opts.pattern else None, allowed)

    def _allowed(self, opts: SampleOptions) -> np.ndarray:
        """(V,) which characters may be generated under ``only_chars`` and ``exclude_chars``."""
        v = self.vocab
        allowed = np.ones(v.size, dtype=bool)
        only = opts.only_chars
        if only is None and self.alphabet is not None and not opts.any_char and opts.style is None:
            only = self.alphabet  # a fine-tuned model: the list's own characters
        if only is not None:
            allowed[:] = False
            allowed[[v.index(c) for c in self.normalize(only) if c in v]] = True
        for c in self.normalize(opts.exclude_chars):
            if c in v:
                allowed[v.index(c)] = False
        allowed[0] = False  # the end token is governed by the length rules
        return allowed

    def _is_known(self, names: list[str]) -> np.ndarray | None:
        """Which names the user gave (or excluded); None when the model has no record of them."""
        if self.known_hashes is None and not self.exclude:
            return None
        known = in_hashes(names, self.known_hashes)
        if self.exclude:
            known |= np.array([n in self.exclude for n in names], dtype=bool)
        return known

    def _sample(self, name: str, lp: float, known, seed: int | None) -> Sample:
        return Sample(name, lp, -lp / (len(name) + 1), None if known is None else not known, seed,
                      capitalised(name) if self.lowercase else name)

    # ----- the core: one batch of candidates -------------------------------------
    def generate(self, seeds: np.ndarray, prep: Prepared, deadline: float | None = None) -> tuple[list[str],
                                                                                                 np.ndarray]:
        """One candidate per seed, unfiltered: (names, log-probabilities). Checks ``deadline`` every step."""
        opts, allowed, prefix = prep.opts, prep.allowed, prep.prefix
        m = len(seeds)
        step = self.model.stepper()  # valid for this call: the parameters do not change during it
        fed = feed(self.model, step, self.vocab.encode(prefix, "prefix"))
        L0 = len(prefix)
        steps = opts.max_len - L0 + 1  # at most this many symbols (end token included)
        out = np.zeros((m, steps), dtype=np.int32)  # generated ids, 0 after the end
        logprob = np.full(m, fed.logprob)  # (m,)
        active = np.arange(m)  # rows still generating
        logits = np.repeat(fed.logits, m, axis=0)  # (m, V)
        state = tuple(np.repeat(s, m, axis=0) for s in fed.state)
        for t in range(steps):
            late = _deadline_passed(deadline, 0, m, m)
            if late is not None:
                raise late
            length = L0 + t  # characters so far, the same for every active row
            mask = allowed.copy() if length < opts.max_len else np.zeros_like(allowed)
            mask[0] = length >= opts.min_len or not mask.any()  # end when nothing else is possible
            choice, lp = next_symbols(logits, mask, opts.temperature, opts.top_k, opts.top_p, seeds[active], t)
            logprob[active] += lp
            out[active, t] = choice
            going = choice != 0
            if not going.all():
                active = active[going]
                if active.size == 0:
                    break
                state = tuple(s[going] for s in state)
            logits, state = step(choice[going].astype(np.int32), state)
        # ids are non-zero up to the end token and zero after it; as one-character strings with
        # NUL for the end token, each row viewed as one string is the name (NumPy drops trailing NULs)
        table = np.array(("",) + self.vocab.chars[1:], dtype="<U1")
        names = table[out].view(f"<U{steps}").ravel().tolist()
        return ([prefix + n for n in names] if prefix else names), logprob

    # ----- public API ------------------------------------------------------------
    def sample(self, opts: SampleOptions = SampleOptions(), deadline: float | None = None,
               emit: Callable[[list[Sample]], None] | None = None) -> Samples:
        """``opts.n`` names satisfying ``opts``; raises :class:`ConstraintError` if the budget runs out.

        ``deadline`` (a ``time.perf_counter()`` value) bounds the wall time, checked
        at every generated character. Candidates are generated ``MAX_BATCH`` at a time;
        with ``emit`` each batch's accepted names are passed to it as they are found and
        not kept (``names`` stays empty), so memory stays flat for any ``n``.
        """
        prep = self.prepare(opts)
        n, seed, budget = opts.n, run_seed(opts, self.digest), opts.budget
        out = Samples([], 0, seed)
        seen: set[str] = set()
        with np.errstate(all="ignore"):
            while out.accepted < n:
                if out.tries >= budget:
                    raise ConstraintError(
                        f"found only {out.accepted} of {n} names in {out.tries} tries (acceptance "
                        f"{out.accepted / max(out.tries, 1):.2%}); loosen the constraints or allow more tries "
                        "(max_tries)")
                m = self._batch_size(opts, out, budget)
                seeds = child_seeds(seed, out.tries, m)
                names, logprobs = self.generate(seeds, prep, deadline)
                batch = self._accept(prep, names, logprobs, seeds, out, seen)
                out.accepted += len(batch)
                if emit is None:
                    out.names.extend(batch)
                elif batch:
                    emit(batch)
                late = _deadline_passed(deadline, out.accepted, n, out.tries) if out.accepted < n else None
                if late is not None:
                    raise late
        return out

    @staticmethod
    def _batch_size(opts: SampleOptions, out: Samples, budget: int) -> int:
        """How many candidates the next batch draws: what is still needed, grown by the acceptance so far."""
        need = opts.n - out.accepted
        if not opts.filtering:
            return int(min(need, MAX_BATCH))
        rate = (out.accepted + 1) / (out.tries + 1)
        return int(min(budget - out.tries, MAX_BATCH, max(need, math.ceil(1.2 * need / rate))))

    def _accept(self, prep: Prepared, names: list[str], logprobs: np.ndarray, seeds: np.ndarray, out: Samples,
                seen: set[str]) -> list[Sample]:
        """The candidates of one batch that pass the filters, up to the number still needed; counts the tries."""
        if not np.isfinite(logprobs).all():
            raise non_finite()
        known = self._is_known(names)
        need, batch = prep.opts.n - out.accepted, []
        for i, name in enumerate(names):
            why = prep.rejects(name, None if known is None else bool(known[i]), seen)
            if why is not None:
                out.rejected[why] = out.rejected.get(why, 0) + 1
                continue
            if prep.opts.unique:
                seen.add(name)
            batch.append(self._sample(name, float(logprobs[i]), None if known is None else bool(known[i]),
                                      int(seeds[i])))
            if len(batch) == need:
                out.tries += i + 1  # the tries actually used: up to this candidate
                return batch
        out.tries += len(names)
        return batch

    def best(self, opts: SampleOptions = SampleOptions(), *, max_expansions: int = 200_000, batch: int = 256,
             deadline: float | None = None) -> Samples:
        """The ``opts.best`` (else ``opts.n``) most probable names that satisfy ``opts``, most probable first.

        Exact best-first search (:mod:`namesmith.kbest`). Temperature, top-k and top-p do not
        apply (the order is the model's own probability); the rejection filters do.
        """
        k = opts.best if opts.best is not None else opts.n
        if not 1 <= k <= 10**5:
            raise ConfigError(f"best must be a whole number in [1, 100000], got {k!r}")
        prep = self.prepare(opts)
        step = self.model.stepper()
        fed = feed(self.model, step, self.vocab.encode(prep.prefix, "prefix"))
        chars, seen = self.vocab.chars, set()

        def accept(ids: tuple[int, ...], lp: float) -> bool:
            name = prep.prefix + "".join(chars[i] for i in ids)
            known = self._is_known([name])
            if prep.rejects(name, None if known is None else bool(known[0]), seen) is not None:
                return False
            seen.add(name)
            return True

        found = search(step, fed.before_last, fed.logprob, fed.last, k, prefix_len=len(prep.prefix),
                       min_len=opts.min_len, max_len=opts.max_len, allowed=prep.allowed, accept=accept,
                       max_expansions=max_expansions, batch=batch,
                       late=lambda got, tries: _deadline_passed(deadline, got, k, tries))
        names = []
        for ids, lp in found:
            name = prep.prefix + "".join(chars[i] for i in ids)
            known = self._is_known([name])
            names.append(self._sample(name, float(lp), None if known is None else bool(known[0]), None))
        return Samples(names, len(found), None, {}, len(names))
