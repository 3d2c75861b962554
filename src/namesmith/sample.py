"""Generating names through ``model.step()``: vectorised, exact where it can be, reproducible.

All candidate names advance together as one batch: one ``step()`` (one matrix
product per layer) per character for the whole batch; rows that emitted the
end token drop out of the batch. Constraints are applied in two ways:

* exactly, by masking the next-character distribution before drawing:
  ``min_len`` (end token masked while the name is too short), ``max_len`` (end
  token forced at the limit), ``exclude_chars`` / ``only_chars``, the
  ``prefix`` (fed through the model first, teacher-forced), and the decoding
  rules ``temperature`` (0 = greedy), ``top_k`` and ``top_p``;
* by rejection, with a budget of ``max_tries`` candidates and a clear error
  when it runs out: ``suffix``, ``contains``, ``pattern`` (a regular expression
  in Python's syntax searched in the name, by the ``regex`` package with a time
  limit per name, so a pattern that backtracks catastrophically is an error, not
  a hang), ``novel`` (not a training name, checked
  against the hashes stored in the checkpoint, plus any ``exclude`` names)
  and ``unique``.

Each candidate name has its own seed and draws its randomness from a
counter-based stream (:mod:`namesmith.rng`), so a name can be regenerated from
its seed alone: ``sample(n=1, seed=<its seed>)`` with the same options returns it.
Every name's ``logprob`` is its natural-log probability under the model itself
(temperature 1, no masks), end token included: the number ``score`` reports.

:meth:`Sampler.best` returns the K most probable names exactly, by best-first
search over prefixes (a prefix's probability only falls as it grows).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field, fields
from typing import Callable

import numpy as np
import regex

from .corpus import LONGEST_NAME, in_hashes
from .errors import ConfigError, ConstraintError, NamesmithError
from .models.base import Model
from .models.layers import log_softmax, logsumexp
from .rng import check_seed, child_seeds, fresh_seed, uniforms
from .text import fold_accents, normalize
from .vocab import Vocab

MAX_BATCH = 4_096  # candidates generated at once: memory stays flat for any n (LSTM-256: about 30 MB)
PATTERN_SECONDS = 0.05  # the most one name may take to match --pattern (a legitimate one takes microseconds)


def candidate_budget(n: int) -> int:
    """The default number of candidates the rejection filters may draw for ``n`` names."""
    return 100 * n + 1000


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class SampleOptions:
    """Generation controls; every value is type- and range-checked on construction (ConfigError)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    prefix: str = ""
    suffix: str = ""
    contains: str = ""
    pattern: str | None = None
    min_len: int = 1
    max_len: int = 50
    exclude_chars: str = ""
    only_chars: str | None = None
    novel: bool = False
    unique: bool = False
    fold_accents: bool = False
    max_tries: int | None = None  # default: candidate_budget(n)

    def __post_init__(self):
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(_is_number(self.temperature) and 0 <= self.temperature <= 100,
             f"temperature must be a number in [0, 100], got {self.temperature!r}")
        need(self.top_k is None or (_is_int(self.top_k) and self.top_k >= 1),
             f"top_k must be a whole number >= 1, got {self.top_k!r}")
        need(self.top_p is None or (_is_number(self.top_p) and 0 < self.top_p <= 1),
             f"top_p must be a number in (0, 1], got {self.top_p!r}")
        for name in ("prefix", "suffix", "contains", "exclude_chars"):
            value = getattr(self, name)
            need(isinstance(value, str) and len(value) <= LONGEST_NAME, f"{name} must be text, got {value!r}")
        for name in ("pattern", "only_chars"):
            value = getattr(self, name)
            need(value is None or (isinstance(value, str) and len(value) <= LONGEST_NAME),
                 f"{name} must be text, got {value!r}")
        need(_is_int(self.min_len) and _is_int(self.max_len), "min_len and max_len must be whole numbers")
        need(1 <= self.max_len <= LONGEST_NAME, f"max_len must be in [1, {LONGEST_NAME}], got {self.max_len}")
        need(0 <= self.min_len <= self.max_len,
             f"need 0 <= min_len <= max_len, got min {self.min_len}, max {self.max_len}")
        for name in ("novel", "unique", "fold_accents"):
            need(isinstance(getattr(self, name), bool), f"{name} must be True or False, got {getattr(self, name)!r}")
        need(self.max_tries is None or (_is_int(self.max_tries) and 1 <= self.max_tries <= 10**9),
             f"max_tries must be a whole number >= 1, got {self.max_tries!r}")

    @classmethod
    def from_kwargs(cls, **options) -> "SampleOptions":
        """Options by keyword; an unknown keyword is a ConfigError listing the known ones."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(f"unknown sampling option {unknown[0]!r}; the options are {', '.join(known)}")
        return cls(**options)


@dataclass(slots=True)
class Sample:
    name: str
    logprob: float  # natural log, end token included
    nats_per_char: float  # -logprob / (len(name) + 1)
    novel: bool | None  # None when the model file has no record of its training names
    seed: int | None  # regenerates the name (None for the k most probable names: no randomness)

    def to_dict(self) -> dict:
        # built directly: dataclasses.asdict deep-copies and costs more than generating the name
        return {"name": self.name, "logprob": self.logprob, "nats_per_char": self.nats_per_char,
                "novel": self.novel, "seed": self.seed}


@dataclass
class SampleReport:
    samples: list[Sample]  # empty when they were streamed to ``emit``
    tries: int  # candidates generated
    seed: int  # the run's seed (name 0's seed)
    rejected: dict[str, int] = field(default_factory=dict)
    accepted: int = 0  # names found (== len(samples) unless streamed)

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

    prefix: str
    suffix: str
    contains: str
    pattern: Pattern | None
    allowed: np.ndarray  # (V,) bool, which characters may be drawn (the end token is governed by lengths)

    def rejects(self, name: str, opts: SampleOptions, known: bool | None, seen: set[str]) -> str | None:
        """Why a complete name fails the rejection filters (None: it passes). Shared by sample and best."""
        if self.suffix and not name.endswith(self.suffix):
            return "suffix"
        if self.contains and self.contains not in name:
            return "contains"
        if self.pattern is not None and not self.pattern.search(name):
            return "pattern"
        if opts.novel and known:
            return "known"
        if opts.unique and name in seen:
            return "duplicate"
        return None


class OutOfTime(ConstraintError):
    """The request's time budget ran out during generation."""


def _out_of_time(found: int, n: int, tries: int) -> OutOfTime:
    return OutOfTime(f"found only {found} of {n} names before the time budget ran out "
                     f"({tries} candidates tried); loosen the constraints")


def _deadline_passed(deadline: float | None, found: int, n: int, tries: int) -> OutOfTime | None:
    return _out_of_time(found, n, tries) if deadline is not None and time.perf_counter() > deadline else None


class Sampler:
    """Generates names from one model. Thread-safe: it keeps no state between calls."""

    def __init__(
        self,
        model: Model,
        vocab: Vocab,
        *,
        known_hashes: np.ndarray | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
        lowercase: bool | None = None,
    ):
        if not isinstance(model, Model) or not isinstance(vocab, Vocab):
            raise ConfigError("a Sampler needs a namesmith model and its Vocab")
        if vocab.size != model.vocab_size:
            raise ConfigError(f"the vocabulary has {vocab.size} symbols but the model {model.vocab_size}")
        self.model = model
        self.vocab = vocab
        self.known_hashes = known_hashes
        self.exclude = frozenset(exclude)
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
        v.check(prefix, "prefix")
        v.check(suffix, "suffix")
        v.check(contains, "contains text")
        allowed = np.ones(v.size, dtype=bool)  # which characters may be generated
        if opts.only_chars is not None:
            allowed[:] = False
            allowed[[v.index(c) for c in self.normalize(opts.only_chars) if c in v]] = True
        for c in self.normalize(opts.exclude_chars):
            if c in v:
                allowed[v.index(c)] = False
        allowed[0] = False  # the end token is governed by the length rules
        for text, what in ((prefix, "prefix"), (suffix, "suffix"), (contains, "contains text")):
            bad = sorted({c for c in text if not allowed[v.index(c)]})
            if bad:
                raise ConfigError(f"the {what} {text!r} uses characters excluded by the character limits: {bad}")
        if len(prefix) > opts.max_len:
            raise ConfigError(f"the prefix is {len(prefix)} characters, longer than max_len {opts.max_len}")
        if len(suffix) > opts.max_len or len(contains) > opts.max_len:
            raise ConfigError("the suffix or contains text is longer than max_len")
        if not allowed.any() and opts.min_len > len(prefix):
            raise ConfigError("no character is allowed, so no name can reach min_len")
        pattern = Pattern(opts.pattern) if opts.pattern else None
        if opts.novel and self.known_hashes is None and not self.exclude:
            raise ConfigError("novel-only needs the training names, and this model file has no record of them")
        return Prepared(prefix, suffix, contains, pattern, allowed)

    def _is_known(self, names: list[str]) -> np.ndarray | None:
        """Which names the user gave (or excluded); None when the model has no record of them."""
        if self.known_hashes is None and not self.exclude:
            return None
        known = in_hashes(names, self.known_hashes)
        if self.exclude:
            known |= np.array([n in self.exclude for n in names], dtype=bool)
        return known

    # ----- the core: one batch of candidates -------------------------------------
    def _feed_prefix(self, step, prefix_ids: np.ndarray):
        """Feed start + prefix through the model once; returns logits (1, V), state, logprob."""
        state = self.model.initial_state(1)
        logits, state = step(np.zeros(1, dtype=np.int32), state)
        lp = 0.0
        for c in prefix_ids:
            lp += float(log_softmax(logits)[0, c])
            logits, state = step(np.array([c], dtype=np.int32), state)
        return logits, state, lp

    def generate(self, seeds: np.ndarray, opts: SampleOptions, prepared: Prepared | None = None,
                 deadline: float | None = None) -> tuple[list[str], np.ndarray]:
        """One candidate per seed, unfiltered: (names, log-probabilities). Checks ``deadline`` every step."""
        prep = prepared or self.prepare(opts)
        allowed, prefix = prep.allowed, prep.prefix
        m = len(seeds)
        step = self.model.stepper()  # valid for this call: the parameters do not change during it
        logits1, state1, lp_prefix = self._feed_prefix(step, self.vocab.encode(prefix, "prefix"))
        L0 = len(prefix)
        steps = opts.max_len - L0 + 1  # at most this many symbols (end token included)
        out = np.zeros((m, steps), dtype=np.int32)  # generated ids, 0 after the end
        logprob = np.full(m, lp_prefix)  # (m,)
        active = np.arange(m)  # rows still generating
        logits = np.repeat(logits1, m, axis=0)  # (m, V)
        state = tuple(np.repeat(s, m, axis=0) for s in state1)
        for t in range(steps):
            late = _deadline_passed(deadline, 0, m, m)
            if late is not None:
                raise late
            length = L0 + t  # characters so far, the same for every active row
            mask = allowed.copy()
            if length >= opts.max_len:
                mask[:] = False
            mask[0] = length >= opts.min_len or not mask.any()  # end when nothing else is possible
            choice, lp = self._draw(logits, mask, opts, seeds[active], t)
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
        if prefix:
            names = [prefix + n for n in names]
        return names, logprob

    @staticmethod
    def _draw(logits: np.ndarray, mask: np.ndarray, opts: SampleOptions, seeds: np.ndarray, t: int):
        """Each row's next symbol under the decoding rules, and its log-probability under the model itself."""
        V = logits.shape[1]
        rows = np.arange(logits.shape[0])
        lse = logsumexp(logits, axis=1)  # (a,) the model's own normaliser
        z = np.where(mask, logits, -np.inf)  # (a, V) the allowed part of the distribution
        if opts.temperature == 0:
            choice = z.argmax(axis=1)
        else:
            z -= z.max(axis=1, keepdims=True)  # the best allowed symbol gets weight exactly 1
            if opts.temperature != 1:
                z /= opts.temperature
            if opts.top_k is not None and opts.top_k < V:
                kth = np.partition(z, V - opts.top_k, axis=1)[:, V - opts.top_k][:, None]
                z[z < kth] = -np.inf  # ties at the k-th value are kept
            p = np.exp(z)  # (a, V) unnormalised, 0 where masked
            if opts.top_p is not None and opts.top_p < 1:
                order = np.argsort(-p, axis=1, kind="stable")
                ps = np.take_along_axis(p, order, axis=1)
                cum = np.cumsum(ps, axis=1)
                # keep the smallest set whose mass reaches top_p (always the most likely one)
                keep_sorted = (cum - ps) < opts.top_p * cum[:, -1:]
                keep = np.zeros_like(keep_sorted)
                np.put_along_axis(keep, order, keep_sorted, axis=1)
                p[~keep] = 0.0
            cdf = np.cumsum(p, axis=1)  # (a, V)
            u = uniforms(seeds, t) * cdf[:, -1]  # (a,) in (0, total)
            choice = np.minimum((cdf < u[:, None]).sum(axis=1), V - 1)
        return choice, logits[rows, choice] - lse

    # ----- public API ------------------------------------------------------------
    def sample(self, n: int, opts: SampleOptions = SampleOptions(), seed: int | None = None,
               deadline: float | None = None, emit: Callable[[list[Sample]], None] | None = None) -> SampleReport:
        """``n`` names satisfying ``opts``; raises :class:`ConstraintError` if the budget runs out.

        ``deadline`` (a ``time.perf_counter()`` value) bounds the wall time, checked
        at every generated character. Candidates are generated ``MAX_BATCH`` at a time;
        with ``emit`` each batch's accepted names are passed to it as they are found and
        not kept (``report.samples`` stays empty), so memory stays flat for any ``n``.
        """
        if not _is_int(n) or not 0 <= n <= 10**7:
            raise ConfigError(f"the number of names must be a whole number in [0, 1e7], got {n!r}")
        prep = self.prepare(opts)
        seed = fresh_seed() if seed is None else check_seed(seed)
        budget = opts.max_tries if opts.max_tries is not None else candidate_budget(n)
        accepted: list[Sample] = []  # kept, unless streamed to emit
        seen: set[str] = set()
        rejected: dict[str, int] = {}
        tries = found = 0
        filtering = bool(prep.suffix or prep.contains or prep.pattern or opts.novel or opts.unique)
        with np.errstate(all="ignore"):
            while found < n:
                if tries >= budget:
                    raise ConstraintError(
                        f"found only {found} of {n} names in {tries} tries "
                        f"(acceptance {found / max(tries, 1):.2%}); "
                        "loosen the constraints or allow more tries (max_tries)")
                need = n - found
                rate = (found + 1) / (tries + 1) if filtering else 1.0
                grow = max(need, np.ceil(1.2 * need / rate))
                m = int(min(need, MAX_BATCH)) if not filtering else int(min(budget - tries, MAX_BATCH, grow))
                seeds = child_seeds(seed, tries, m)
                try:
                    names, logprobs = self.generate(seeds, opts, prep, deadline)
                except OutOfTime:
                    raise _out_of_time(found, n, tries) from None
                if not np.isfinite(logprobs).all():
                    raise NamesmithError("the model gives non-finite probabilities (its weights overflow); "
                                         "this model file cannot be used")
                known = self._is_known(names)
                batch: list[Sample] = []
                for i, name in enumerate(names):
                    why = prep.rejects(name, opts, None if known is None else bool(known[i]), seen)
                    if why is not None:
                        rejected[why] = rejected.get(why, 0) + 1
                        continue
                    if opts.unique:
                        seen.add(name)
                    lp = float(logprobs[i])
                    batch.append(Sample(name, lp, -lp / (len(name) + 1),
                                        None if known is None else not bool(known[i]), int(seeds[i])))
                    if found + len(batch) == n:
                        tries += i + 1  # the tries actually used: up to this candidate
                        break
                else:
                    tries += m
                found += len(batch)
                if emit is None:
                    accepted.extend(batch)
                elif batch:
                    emit(batch)
                late = _deadline_passed(deadline, found, n, tries) if found < n else None
                if late is not None:
                    raise late
        return SampleReport(accepted, tries, seed, rejected, found)

    def best(self, k: int, opts: SampleOptions = SampleOptions(), *, max_expansions: int = 200_000,
             batch: int = 256, deadline: float | None = None) -> list[Sample]:
        """The ``k`` most probable names under the model that satisfy ``opts``, most probable first.

        Exact best-first search: the frontier is a heap of prefixes by log-probability;
        a complete name (end token chosen) is emitted only when it is at the top of
        the heap, so no unexplored prefix can beat it. Popped prefixes are expanded
        ``batch`` at a time through one ``step()``. Temperature, top-k and top-p do
        not apply (the order is the model's own probability).
        """
        if not _is_int(k) or not 1 <= k <= 10**5:
            raise ConfigError(f"the number of most probable names must be a whole number in [1, 1e5], got {k!r}")
        prep = self.prepare(opts)
        step = self.model.stepper()
        # root: the state before the last fed symbol, so that popping it runs one step
        state = self.model.initial_state(1)
        fed = np.concatenate([[0], self.vocab.encode(prep.prefix, "prefix")]).astype(np.int32)
        lp0 = 0.0
        with np.errstate(all="ignore"):
            for i, c in enumerate(fed[:-1]):
                logits, state = step(np.array([c], dtype=np.int32), state)
                lp0 += float(log_softmax(logits)[0, fed[i + 1]])
        store = [tuple(s[0] for s in state)]  # states by id
        counter = 0
        heap = [(-lp0, counter, False, (), 0, int(fed[-1]))]  # (-lp, tie, terminal, ids, state id, last)
        results: list[Sample] = []
        seen: set[str] = set()
        expansions, L0, chars = 0, len(prep.prefix), self.vocab.chars
        while len(results) < k and heap:
            if heap[0][2]:
                neg_lp, _, _, ids, _, _ = heapq.heappop(heap)
                name = prep.prefix + "".join(chars[i] for i in ids)
                known = self._is_known([name])
                known = None if known is None else bool(known[0])
                if prep.rejects(name, opts, known, seen) is None:
                    seen.add(name)
                    results.append(Sample(name, float(-neg_lp), float(neg_lp) / (len(name) + 1),
                                          None if known is None else not known, None))
                continue
            popped = []
            while heap and not heap[0][2] and len(popped) < batch:
                popped.append(heapq.heappop(heap))
            expansions += len(popped)
            late = _deadline_passed(deadline, len(results), k, expansions)
            if expansions > max_expansions or late is not None:
                raise late or ConstraintError(
                    f"k-best search stopped after {max_expansions} expansions with {len(results)} of {k} "
                    "names; loosen the constraints or ask for fewer names")
            states = tuple(np.stack([store[e[4]][j] for e in popped]) for j in range(len(store[0])))
            last = np.array([e[5] for e in popped], dtype=np.int32)
            with np.errstate(all="ignore"):
                logits, new_state = step(last, states)
                logp = log_softmax(logits.astype(np.float64))  # (b, V)
            if not np.isfinite(logp).any(axis=1).all():
                raise NamesmithError("the model gives non-finite probabilities (its weights overflow); "
                                     "this model file cannot be used")
            for r, (neg_lp, _, _, ids, _, _) in enumerate(popped):
                length = L0 + len(ids)
                sid = len(store)
                store.append(tuple(s[r] for s in new_state))
                if length >= opts.min_len and np.isfinite(logp[r, 0]):
                    counter += 1
                    heapq.heappush(heap, (neg_lp - logp[r, 0], counter, True, ids, -1, 0))
                if length < opts.max_len:
                    for c in np.flatnonzero(prep.allowed & np.isfinite(logp[r])):
                        counter += 1
                        heapq.heappush(heap, (neg_lp - logp[r, c], counter, False, ids + (int(c),), sid, int(c)))
        return results
