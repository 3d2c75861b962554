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
  when it runs out: ``suffix``, ``contains``, ``pattern`` (a Python regular
  expression searched in the name), ``novel`` (not a training name, checked
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
import re
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from .corpus import in_hashes
from .errors import ConfigError, ConstraintError
from .models.base import Model
from .models.layers import log_softmax, logsumexp
from .rng import child_seeds, fresh_seed, uniforms
from .vocab import Vocab

MAX_LEN_LIMIT = 1000
MAX_BATCH = 65_536


@dataclass(frozen=True)
class SampleOptions:
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
    max_tries: int | None = None  # default: 100 * n + 1000 candidates


@dataclass(slots=True)
class Sample:
    name: str
    logprob: float  # natural log, end token included
    nats_per_char: float  # -logprob / (len(name) + 1)
    novel: bool | None  # None when the model file has no record of its training names
    seed: int

    def to_dict(self) -> dict:
        # built directly: dataclasses.asdict deep-copies and costs more than generating the name
        return {"name": self.name, "logprob": self.logprob, "nats_per_char": self.nats_per_char,
                "novel": self.novel, "seed": self.seed}


@dataclass
class SampleReport:
    samples: list[Sample]
    tries: int  # candidates generated
    seed: int  # the run's seed (name 0's seed)
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def acceptance(self) -> float:
        return len(self.samples) / self.tries if self.tries else 0.0


class Sampler:
    """Generates names from one model. Thread-safe: it keeps no state between calls."""

    def __init__(
        self,
        model: Model,
        vocab: Vocab,
        *,
        train_hashes: np.ndarray | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
        lowercase: bool | None = None,
    ):
        if vocab.size != model.vocab_size:
            raise ConfigError("vocabulary and model sizes differ")
        self.model = model
        self.vocab = vocab
        self.train_hashes = train_hashes
        self.exclude = frozenset(exclude)
        # user text is lowercased when the model's alphabet has no upper case (the default corpora)
        self.lowercase = (not any(c.isupper() for c in vocab.chars)) if lowercase is None else lowercase

    # ----- option handling ------------------------------------------------
    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return unicodedata.normalize("NFC", text.lower()) if self.lowercase else text

    def _prepare(self, opts: SampleOptions):
        v = self.vocab
        if not (opts.temperature >= 0 and np.isfinite(opts.temperature)):
            raise ConfigError(f"temperature must be a finite number >= 0, got {opts.temperature}")
        if opts.top_k is not None and not (isinstance(opts.top_k, int) and opts.top_k >= 1):
            raise ConfigError(f"top-k must be a whole number >= 1, got {opts.top_k}")
        if opts.top_p is not None and not 0 < opts.top_p <= 1:
            raise ConfigError(f"top-p must be in (0, 1], got {opts.top_p}")
        if not 0 <= opts.min_len <= opts.max_len:
            raise ConfigError(f"need 0 <= min-len <= max-len, got min {opts.min_len}, max {opts.max_len}")
        if not 1 <= opts.max_len <= MAX_LEN_LIMIT:
            raise ConfigError(f"max-len must be in [1, {MAX_LEN_LIMIT}], got {opts.max_len}")
        prefix, suffix, contains = (self.normalize(s) for s in (opts.prefix, opts.suffix, opts.contains))
        v.check(prefix, "prefix")
        v.check(suffix, "suffix")
        v.check(contains, "contains text")
        allowed = np.ones(v.size, dtype=bool)  # which characters may be generated
        if opts.only_chars is not None:
            only = self.normalize(opts.only_chars)
            allowed[:] = False
            allowed[[v.index(c) for c in only if c in v]] = True
        for c in self.normalize(opts.exclude_chars):
            if c in v:
                allowed[v.index(c)] = False
        allowed[0] = False  # the end token is governed by the length rules
        for text, what in ((prefix, "prefix"), (suffix, "suffix"), (contains, "contains text")):
            bad = sorted({c for c in text if not allowed[v.index(c)]})
            if bad:
                raise ConfigError(f"the {what} {text!r} uses characters excluded by the character limits: {bad}")
        if len(prefix) > opts.max_len:
            raise ConfigError(f"the prefix is {len(prefix)} characters, longer than max-len {opts.max_len}")
        if len(suffix) > opts.max_len or len(contains) > opts.max_len:
            raise ConfigError("the suffix or contains text is longer than max-len")
        if not allowed.any() and opts.min_len > len(prefix):
            raise ConfigError("no character is allowed, so no name can reach min-len")
        pattern = None
        if opts.pattern:
            try:
                pattern = re.compile(opts.pattern)
            except re.error as e:
                raise ConfigError(f"--pattern is not a valid regular expression: {e}") from None
        if opts.novel and self.train_hashes is None and not self.exclude:
            raise ConfigError("novel-only needs the training names, and this model file has no record of them")
        return prefix, suffix, contains, pattern, allowed

    def _is_known(self, names: list[str]) -> np.ndarray:
        known = in_hashes(names, self.train_hashes) if self.train_hashes is not None else np.zeros(len(names), bool)
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

    def generate(self, seeds: np.ndarray, opts: SampleOptions, _prepared=None):
        """Generate one candidate per seed. Returns (names, logprobs) without any filtering."""
        prefix, _, _, _, allowed = _prepared or self._prepare(opts)
        model, V = self.model, self.vocab.size
        m = len(seeds)
        prefix_ids = self.vocab.encode(prefix, "prefix")
        step = model.stepper()  # valid for this call: the parameters do not change during it
        logits1, state1, lp_prefix = self._feed_prefix(step, prefix_ids)
        L0 = len(prefix)
        steps = opts.max_len - L0 + 1  # at most this many symbols (end token included)
        out = np.zeros((m, steps), dtype=np.int32)  # generated ids, 0 after the end
        logprob = np.full(m, lp_prefix)  # (m,)
        active = np.arange(m)  # rows still generating
        logits = np.repeat(logits1, m, axis=0)  # (m, V)
        state = tuple(np.repeat(s, m, axis=0) for s in state1)
        neg_inf = -np.inf
        for t in range(steps):
            length = L0 + t  # characters so far, the same for every active row
            mask = allowed.copy()
            if length >= opts.max_len:
                mask[:] = False
            mask[0] = length >= opts.min_len
            if not mask.any():  # only possible if no character is allowed: end anyway
                mask[0] = True
            rows = np.arange(active.size)
            # the model's own log-probability of each row's choice: logits - logsumexp(logits)
            lse = logsumexp(logits, axis=1)  # (a,)
            z = np.where(mask, logits, neg_inf)  # (a, V) the allowed part of the distribution
            if opts.temperature == 0:
                choice = z.argmax(axis=1)
            else:
                z -= z.max(axis=1, keepdims=True)  # the best allowed symbol gets weight exactly 1
                if opts.temperature != 1:
                    z /= opts.temperature
                if opts.top_k is not None and opts.top_k < V:
                    kth = np.partition(z, V - opts.top_k, axis=1)[:, V - opts.top_k][:, None]
                    z[z < kth] = neg_inf  # ties at the k-th value are kept
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
                u = uniforms(seeds[active], t) * cdf[:, -1]  # (a,) in (0, total)
                choice = np.minimum((cdf < u[:, None]).sum(axis=1), V - 1)
            logprob[active] += logits[rows, choice] - lse
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

    # ----- public API ------------------------------------------------------------
    def sample(self, n: int, opts: SampleOptions = SampleOptions(), seed: int | None = None,
               deadline: float | None = None) -> SampleReport:
        """``n`` names satisfying ``opts``; raises :class:`ConstraintError` if the budget runs out.

        ``deadline`` (a ``time.perf_counter()`` value) bounds the wall time: no new
        round of candidates starts after it.
        """
        if not isinstance(n, int) or n < 0:
            raise ConfigError(f"the number of names must be a whole number >= 0, got {n!r}")
        prepared = self._prepare(opts)
        _, suffix, contains, pattern, _ = prepared
        seed = fresh_seed() if seed is None else int(seed)
        if seed < 0:
            raise ConfigError("seed must be >= 0")
        budget = opts.max_tries if opts.max_tries is not None else 100 * n + 1000
        accepted: list[Sample] = []
        seen: set[str] = set()
        rejected = {"suffix": 0, "contains": 0, "pattern": 0, "known": 0, "duplicate": 0}
        tries = 0
        filtering = bool(suffix or contains or pattern or opts.novel or opts.unique)
        while len(accepted) < n:
            if tries >= budget:
                raise ConstraintError(
                    f"found only {len(accepted)} of {n} names in {tries} tries "
                    f"(acceptance {len(accepted) / max(tries, 1):.2%}); "
                    "loosen the constraints or allow more tries (--max-tries)"
                )
            if deadline is not None and tries and time.perf_counter() > deadline:
                raise ConstraintError(
                    f"found only {len(accepted)} of {n} names before the time budget ran out "
                    f"(acceptance {len(accepted) / max(tries, 1):.2%}); loosen the constraints"
                )
            need = n - len(accepted)
            rate = (len(accepted) + 1) / (tries + 1) if filtering else 1.0
            m = int(min(budget - tries, MAX_BATCH, max(need, np.ceil(1.2 * need / rate))))
            seeds = child_seeds(seed, tries, m)
            names, logprobs = self.generate(seeds, opts, prepared)
            tries += m
            known = self._is_known(names) if (self.train_hashes is not None or self.exclude) else None
            if not filtering and m <= n - len(accepted):  # nothing to reject: take the whole batch
                novel = [None] * m if known is None else (~known).tolist()
                lps = logprobs.tolist()
                accepted += [Sample(name, lp, -lp / (len(name) + 1), nv, sd)
                             for name, lp, nv, sd in zip(names, lps, novel, seeds.tolist())]
                continue
            for i, name in enumerate(names):
                if suffix and not name.endswith(suffix):
                    rejected["suffix"] += 1
                elif contains and contains not in name:
                    rejected["contains"] += 1
                elif pattern is not None and not pattern.search(name):
                    rejected["pattern"] += 1
                elif opts.novel and known[i]:
                    rejected["known"] += 1
                elif opts.unique and name in seen:
                    rejected["duplicate"] += 1
                else:
                    seen.add(name)
                    lp = float(logprobs[i])
                    accepted.append(Sample(name, lp, -lp / (len(name) + 1),
                                           None if known is None else not bool(known[i]), int(seeds[i])))
                    if len(accepted) == n:
                        # the tries actually used: up to this candidate
                        tries -= m - (i + 1)
                        break
        return SampleReport(accepted, tries, seed, {k: v for k, v in rejected.items() if v})

    def best(self, k: int, opts: SampleOptions = SampleOptions(), *, max_expansions: int = 200_000,
             batch: int = 256) -> list[Sample]:
        """The ``k`` most probable names under the model that satisfy ``opts``, most probable first.

        Exact best-first search: the frontier is a heap of prefixes by log-probability;
        a complete name (end token chosen) is emitted only when it is at the top of
        the heap, so no unexplored prefix can beat it. Popped prefixes are expanded
        ``batch`` at a time through one ``step()``. Temperature, top-k and top-p do
        not apply (the order is the model's own probability).
        """
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"--best needs a whole number >= 1, got {k!r}")
        prefix, suffix, contains, pattern, allowed = self._prepare(opts)
        prefix_ids = self.vocab.encode(prefix, "prefix")
        model = self.model
        step = model.stepper()
        # root: the state before the last fed symbol, so that popping it runs one step
        state = model.initial_state(1)
        fed = np.concatenate([[0], prefix_ids]).astype(np.int32)
        lp0 = 0.0
        for i, c in enumerate(fed[:-1]):
            logits, state = step(np.array([c], dtype=np.int32), state)
            lp0 += float(log_softmax(logits)[0, fed[i + 1]])
        store = [tuple(s[0] for s in state)]  # states by id
        counter = 0
        heap = [(-lp0, counter, False, (), 0, int(fed[-1]))]  # (-lp, tie, terminal, ids, state id, last)
        results: list[Sample] = []
        expansions = 0
        L0 = len(prefix)
        chars = self.vocab.chars
        while len(results) < k and heap:
            if heap[0][2]:
                neg_lp, _, _, ids, _, _ = heapq.heappop(heap)
                name = prefix + "".join(chars[i] for i in ids)
                if suffix and not name.endswith(suffix):
                    continue
                if contains and contains not in name:
                    continue
                if pattern is not None and not pattern.search(name):
                    continue
                known = bool(self._is_known([name])[0]) if (self.train_hashes is not None or self.exclude) else None
                if opts.novel and known:
                    continue
                results.append(Sample(name, float(-neg_lp), float(neg_lp) / (len(name) + 1), None if known is None else not known, 0))
                continue
            popped = []
            while heap and not heap[0][2] and len(popped) < batch:
                popped.append(heapq.heappop(heap))
            expansions += len(popped)
            if expansions > max_expansions:
                raise ConstraintError(
                    f"k-best search stopped after {max_expansions} expansions with {len(results)} of {k} "
                    "names; loosen the constraints or ask for fewer names"
                )
            states = tuple(np.stack([store[e[4]][j] for e in popped]) for j in range(len(store[0])))
            last = np.array([e[5] for e in popped], dtype=np.int32)
            logits, new_state = step(last, states)
            logp = log_softmax(logits.astype(np.float64))  # (b, V)
            for r, (neg_lp, _, _, ids, _, _) in enumerate(popped):
                length = L0 + len(ids)
                sid = len(store)
                store.append(tuple(s[r] for s in new_state))
                if length >= opts.min_len and np.isfinite(logp[r, 0]):
                    counter += 1
                    heapq.heappush(heap, (neg_lp - logp[r, 0], counter, True, ids, -1, 0))
                if length < opts.max_len:
                    for c in np.flatnonzero(allowed & np.isfinite(logp[r])):
                        counter += 1
                        heapq.heappush(heap, (neg_lp - logp[r, c], counter, False, ids + (int(c),), sid, int(c)))
        return results


def sample_names(model: Model, vocab: Vocab, n: int = 10, *, seed: int | None = None, **options) -> list[str]:
    """Convenience: ``n`` names as strings (see :class:`SampleOptions` for the options)."""
    return [s.name for s in Sampler(model, vocab).sample(n, SampleOptions(**options), seed).samples]
