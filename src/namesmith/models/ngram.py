"""Interpolated (modified) Kneser-Ney character n-gram model, behind the same contract.

Each name is read as ``<s> c1 ... cn </s>`` with a single start symbol (id 0 as
an input; the end token is id 0 as a target). The model of order ``N`` predicts
``w`` from the history ``h`` of at most ``N-1`` previous symbols::

    P(w | h) = max(c(h w) - D_k(c(h w)), 0) / c(h •)  +  gamma(h) * P(w | h')
    gamma(h) = (D_k1 N1(h •) + D_k2 N2(h •) + D_k3 N3+(h •)) / c(h •)

where ``h'`` is ``h`` without its oldest symbol and the recursion ends in a
uniform distribution over the ``V`` symbols. ``c`` are *adjusted* counts
(Chen & Goodman, 1999; as in KenLM): raw counts for the highest order and for
n-grams that start with ``<s>`` (they have no left context), otherwise the
number of distinct symbols seen to the left of the n-gram (continuation
counts). ``N1(h •)``, ``N2(h •)``, ``N3+(h •)`` count the symbols that follow
``h`` with adjusted count 1, 2 and 3 or more. The three discounts of each order
are estimated from its counts of counts (``Y = n1 / (n1 + 2 n2)``,
``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``, ``D3 = 3 - 4Y n4/n3``), or all set
to ``discount`` when one is given.

Storage is sparse, as in ARPA files and KenLM: for each order ``k`` only what
was seen. ``ctx{k}`` are the sorted integer keys of the contexts ``h`` of length
``k-1`` seen in training, with their back-off weights ``bow{k} = log gamma(h)``;
``pair{k}`` are the sorted keys of the seen n-grams ``(h, w)`` with their
interpolated ``logp{k} = log P(w | h)``. Everything else follows:
``P(w | h) = gamma(h) P(w | h')`` for a seen ``h`` and an unseen ``(h, w)``, and
``P(· | h) = P(· | h')`` for an unseen ``h``. Memory grows with the number of
n-grams, never with contexts × alphabet. ``step`` and ``forward`` build a batch's
next-symbol distributions from order 1 upwards (uniform, then for each order a
row whose context was seen is scaled by its ``gamma`` and its seen entries are
written), vectorised over the batch. Fitted from counts in one pass
(:meth:`NGram.fit`), no gradient steps.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..vocab import Encoded
from .base import REGISTRY, Cache, FittedModel, State, StepFn, int_option

NONE = -1  # "no symbol": positions before the start symbol in a history
DENSE_CELLS = 1 << 20  # low orders whose full distributions fit in this many cells are also kept dense


def _encode(ctx: np.ndarray, V: int) -> np.ndarray:
    """Integer keys of contexts ``ctx (..., L)`` with symbols in [0, V): base V+1, digits s+1."""
    key = np.zeros(ctx.shape[:-1], dtype=np.int64)
    for j in range(ctx.shape[-1]):
        key = key * (V + 1) + (ctx[..., j].astype(np.int64) + 1)
    return key


def _parent(pair: np.ndarray, k: int, V: int) -> np.ndarray:
    """Keys of the order-(k-1) n-grams ``(h', w)`` of order-k keys ``(h, w)``: the oldest context symbol dropped."""
    ctx, w = pair // (V + 1), pair % (V + 1)
    return (ctx % (V + 1) ** (k - 2)) * (V + 1) + w


def _valid_keys(keys: np.ndarray, L: int, V: int) -> bool:
    """Whether every key is a context of exactly ``L`` symbols in [0, V) (base V+1, digits 1..V)."""
    rest = keys.astype(np.int64)
    if np.any(rest < 0):
        return False
    for _ in range(L):
        if np.any(rest % (V + 1) == 0):
            return False
        rest = rest // (V + 1)
    return not np.any(rest)


def _discounts(adjusted_counts: np.ndarray, fixed: float | None) -> np.ndarray:
    """``[0, D1, D2, D3+]`` for one order."""
    if fixed is not None:
        return np.array([0.0, fixed, fixed, fixed])
    n = [np.count_nonzero(adjusted_counts == i) for i in range(1, 5)]
    if n[0] == 0 or n[1] == 0:
        return np.array([0.0, 0.5, 1.0, 1.5])  # too few counts to estimate: a reasonable default
    Y = n[0] / (n[0] + 2 * n[1])
    d = [1 - 2 * Y * n[1] / n[0],
         2 - 3 * Y * n[2] / n[1],
         3 - 4 * Y * n[3] / n[2] if n[2] else 3 - 4 * Y]
    return np.array([0.0] + [min(max(x, 0.05), i + 1.0) for i, x in enumerate(d)])


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    if not keys.size:
        return keys, np.zeros(0, dtype=np.int64)
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[first], np.diff(np.r_[first, keys.size])


def _merge_runs(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and summed counts of several (sorted distinct keys, counts) pairs."""
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate([k for k, _ in parts])
    counts = np.concatenate([c for _, c in parts])
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    if not keys.size:
        return keys, counts
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[first], np.add.reduceat(counts, first)


POSITIONS = 1 << 22  # positions counted at a time: memory grows with the distinct n-grams, not the text


def _position_counts(encoded: Encoded, V: int, N: int) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]],
                                                                  tuple[np.ndarray, np.ndarray]]:
    """Raw counts of the n-grams that start at ``<s>`` (per order below ``N``) and of every order-``N``
    n-gram, counted over chunks of names of about ``POSITIONS`` positions and merged (KenLM sorts in blocks
    too): ``({k: (keys, counts)}, (keys, counts))``, keys sorted and distinct."""
    steps_all = encoded.lengths + 1  # (names,) predictions per name: inputs <s> c1..cn, targets c1..cn </s>
    ends = np.cumsum(steps_all)
    raw: dict[int, list] = {k: [] for k in range(2, N)}
    top: list = []
    lo = 0
    while lo < len(encoded):
        hi = max(lo + 1, int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + POSITIONS, side="right")))
        lengths, steps = encoded.lengths[lo:hi], steps_all[lo:hi]
        ids = encoded.ids[encoded.offsets[lo]: encoded.offsets[hi]]
        total = int(steps.sum())
        pos = np.arange(total, dtype=np.int32)  # (positions,) t within the name
        pos -= np.repeat((np.cumsum(steps) - steps).astype(np.int32), steps)
        X = np.zeros(total, dtype=np.int32)  # (positions,) each input symbol (<s> = 0)
        X[pos > 0] = ids
        Y = np.zeros(total, dtype=np.int32)  # (positions,) each target (</s> = 0)
        Y[pos < np.repeat(lengths.astype(np.int32), steps)] = ids
        top.append(_runs(np.sort(_pair_keys(X, Y, pos + 1 >= N - 1, N - 1, V))))
        for k in raw:
            raw[k].append(_runs(np.sort(_pair_keys(X, Y, pos == k - 2, k - 1, V))))
        lo = hi
    return {k: _merge_runs(v) for k, v in raw.items()}, _merge_runs(top)


def _pair_keys(X: np.ndarray, Y: np.ndarray, select: np.ndarray, L: int, V: int) -> np.ndarray:
    """Keys of (the L inputs up to each selected position, its target), built digit by digit from shifted
    slices of ``X`` (no (positions, L) array, no gathers); a position's L inputs lie in its own name wherever
    ``select`` implies pos >= L - 1."""
    total = X.size
    key = np.zeros(total, dtype=np.int64)
    for back in range(L - 1, -1, -1):
        key *= V + 1
        key[back:] += X[: total - back]
        key[back:] += 1
    key *= V + 1
    key += Y
    return key[select]


def _adjusted_counts(encoded: Encoded, V: int, N: int) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Adjusted counts per order ``k``: (context keys, targets, counts), sorted by (context, target).

    As KenLM counts: only the highest order is counted from the text (sorted in
    blocks, :func:`_position_counts`); an order-k n-gram whose context starts with
    ``<s>`` keeps its raw count (counted from the names' first positions), and every
    other one gets its continuation count, the number of distinct order-(k+1)
    n-grams it ends (one sort of the parents of the order above). Nothing is of size
    positions x order.
    """
    raw, (uniq, counts) = _position_counts(encoded, V, N)
    adj: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    upper = None  # distinct n-grams of the order above
    for k in range(N, 0, -1):
        if k < N:
            u_cont, c_cont = _runs(np.sort(_parent(upper, k + 1, V)))
            u_raw, c_raw = raw.get(k, (u_cont[:0], c_cont[:0]))
            keys = np.concatenate([u_raw, u_cont])  # disjoint: only raw keys have <s> as their first symbol
            order = np.argsort(keys, kind="stable")
            uniq, counts = keys[order], np.concatenate([c_raw, c_cont])[order]
        adj[k] = (uniq // (V + 1), uniq % (V + 1), counts)
        upper = uniq
    return adj


class NGram(FittedModel):
    """Kneser-Ney n-gram language model (see module docstring)."""

    kind = "ngram"
    normalized: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"order": 6, "discount": None, "contexts": None, "ngrams": None,
                                          "styles": 0}

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        out["order"] = int_option(out, "order", 1, 10)
        out["styles"] = int_option(out, "styles", 0, 100_000)  # > 0 only asks fit() for a StyledNGram
        if out["order"] > cls.max_order(out["vocab_size"]):
            raise ConfigError(f"an n-gram of order {out['order']} over {out['vocab_size']:,} symbols is too large "
                              f"for its 64-bit keys; choose --order {cls.max_order(out['vocab_size'])} or lower")
        d = out["discount"]
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d < 1):
            raise ConfigError(f"n-gram discount must be in (0, 1), got {d!r}")
        if (out["contexts"] is None) != (out["ngrams"] is None):
            raise ConfigError("this n-gram was saved by namesmith 0.1 in its dense format; fit it again "
                              "(namesmith train --model ngram takes seconds)")
        for name in ("contexts", "ngrams"):
            n = out[name]
            if n is not None and (not isinstance(n, list) or len(n) != out["order"] or not all(
                    isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 500_000_000 for c in n)):
                raise ConfigError(f"n-gram {name} counts are malformed")
        return out

    @staticmethod
    def max_order(vocab_size: int) -> int:
        """The highest order whose (context, target) keys fit in int64: ``(V+1)^N < 2^63`` (6 up to 1,447
        symbols, 5 up to 6,207)."""
        n = 1
        while n < 10 and (vocab_size + 1) ** (n + 1) < 2**63:
            n += 1
        return n

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        shapes = {}
        N = config["order"]
        for k, (c, n) in enumerate(zip(config["contexts"] or [1] * N, config["ngrams"] or [1] * N), start=1):
            shapes[f"ctx{k}"], shapes[f"bow{k}"] = (c,), (c,)
            shapes[f"pair{k}"], shapes[f"logp{k}"] = (n,), (n,)
        return shapes

    @classmethod
    def param_dtypes(cls, config: dict) -> dict[str, np.dtype]:
        out = {}
        for k in range(1, config["order"] + 1):
            out[f"ctx{k}"] = out[f"pair{k}"] = np.dtype(np.int64)
            out[f"bow{k}"] = out[f"logp{k}"] = np.dtype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict[str, np.ndarray]) -> "NGram":
        """Rebuild from a checkpoint: keys of the alphabet's symbols and sorted, probabilities at most 1, every
        context's distribution sums to 1."""
        V = config["vocab_size"]
        for k in range(1, config["order"] + 1):  # before the model is built: its tables index by these keys
            ctx, pair = arrays.get(f"ctx{k}"), arrays.get(f"pair{k}")
            if ctx is None or pair is None or ctx.ndim != 1 or pair.ndim != 1:
                continue  # the shape check of Model.__init__ says what is wrong
            if not (_valid_keys(ctx, k - 1, V) and _valid_keys(pair // (V + 1), k - 1, V)
                    and np.all(pair >= 0) and np.all(pair % (V + 1) < V)):
                raise CheckpointError(f"n-gram table {k} holds keys of symbols outside its {V}-symbol alphabet")
        model = cls(config, arrays)
        for k in range(1, model.order + 1):
            ctx, pair, logp, bow = (arrays[f"{n}{k}"] for n in ("ctx", "pair", "logp", "bow"))
            if not (np.all(ctx[1:] > ctx[:-1]) and np.all(pair[1:] > pair[:-1])):
                raise CheckpointError(f"n-gram table {k} is not sorted")

            if np.any(logp > 1e-4) or np.any(bow > 1e-4):
                raise CheckpointError(f"n-gram table {k} holds probabilities above 1")
            owner = np.searchsorted(ctx, pair // (V + 1))  # the context of each seen n-gram
            if np.any(owner >= ctx.size) or np.any(ctx[np.minimum(owner, ctx.size - 1)] != pair // (V + 1)):
                raise CheckpointError(f"n-gram table {k} has n-grams without a context")
            seen = np.exp(logp.astype(np.float64))
            lower = np.full(pair.size, 1.0 / V) if k == 1 else np.exp(model._seen_logp(k - 1, _parent(pair, k, V)))
            total = np.bincount(owner, seen, ctx.size) + np.exp(bow.astype(np.float64)) * (
                1.0 - np.bincount(owner, lower, ctx.size))
            if np.any(np.abs(total - 1) > 1e-3):
                raise CheckpointError(f"n-gram table {k} does not hold probability distributions")
        return model

    def __init__(self, config: dict, params: dict[str, np.ndarray]):
        super().__init__(config, params)
        V = self.vocab_size
        # derived once, read-only: where each context's n-grams start in its table, their symbols and probabilities
        self._first, self._count, self._symbol, self._prob = {}, {}, {}, {}
        for k in range(1, self.order + 1):
            ctx, pair = params[f"ctx{k}"], params[f"pair{k}"]
            self._first[k] = np.searchsorted(pair // (V + 1), np.append(ctx, np.iinfo(np.int64).max))
            self._count[k] = np.diff(self._first[k])
            self._symbol[k] = (pair % (V + 1)).astype(np.int64)
            self._prob[k] = np.exp(params[f"logp{k}"].astype(np.float64))

    @functools.cached_property
    def _dense(self) -> dict[int, np.ndarray]:
        """:meth:`_dense_tables`, built when first sampled from (a world load that only scores or fine-tunes
        spent a third of its time, 0.28 s, on them)."""
        with np.errstate(all="ignore"):  # a damaged file is refused by from_arrays' checks, not by a warning here
            return self._dense_tables()

    def _dense_tables(self) -> dict[int, np.ndarray]:
        """Full next-symbol distributions ``(contexts, V)`` of the low orders, while they fit ``DENSE_CELLS``.

        ``P_k(. | h) = gamma(h) P_{k-1}(. | h')`` with the seen entries of ``h``
        overwritten: built order by order from the one below. Sampling then gathers
        a row instead of rebuilding it from the sparse tables (the low orders hold the
        most n-grams per context); the high orders stay sparse.
        """
        V, dense = self.vocab_size, {}
        lower = np.full((1, V), 1.0 / V)  # the uniform distribution, "order 0"
        cells = 0
        for k in range(1, self.order + 1):
            ctx, count = self.params[f"ctx{k}"], self._count[k]
            cells += ctx.size * V
            if cells > DENSE_CELLS:
                break
            parent = np.zeros(ctx.size, dtype=np.int64) if k == 1 else np.minimum(
                np.searchsorted(self.params[f"ctx{k - 1}"], ctx % (V + 1) ** (k - 2)), lower.shape[0] - 1)
            table = lower[parent] * np.exp(self.params[f"bow{k}"].astype(np.float64))[:, None]  # (contexts, V)
            owner = np.repeat(np.arange(ctx.size), count[: ctx.size])  # each seen n-gram's context
            table[owner, self._symbol[k][: owner.size]] = self._prob[k][: owner.size]
            lower = table
            dense[k] = np.log(table).astype(np.float32)  # log-probabilities, as the rows are returned
        return dense

    @property
    def order(self) -> int:
        return self.config["order"]

    def describe(self) -> str:
        n = sum(self.params[f"pair{k}"].size for k in range(1, self.order + 1))
        return f"ngram (order {self.order}, {n:,} n-grams)"

    def _seen_logp(self, k: int, pair: np.ndarray) -> np.ndarray:
        """log P of seen n-grams of order ``k`` by key (every key must be present: suffixes of seen n-grams are)."""
        table = self.params[f"pair{k}"]
        at = np.minimum(np.searchsorted(table, pair), table.size - 1)
        if np.any(table[at] != pair):
            raise CheckpointError(f"n-gram table {k} misses the suffix of a higher-order n-gram")
        return self.params[f"logp{k}"][at].astype(np.float64)

    # ----- fitting ---------------------------------------------------------------------
    @classmethod
    def fit(cls, config: dict, encoded: Encoded, val: Encoded | None = None) -> "FittedModel":
        """Count n-grams in the encoded names and build the interpolated tables.

        With ``styles`` in the configuration (a labelled corpus) the result is the
        per-style model interpolated with the pooled one (``models.styled_ngram``),
        its weights fitted on ``val``.
        """
        if config.get("styles"):
            return REGISTRY["ngram-styled"].fit(config, encoded, val)
        config = cls.check_config({**config, "contexts": None})
        if not len(encoded):
            raise ConfigError("an n-gram model needs at least one training name")
        # no n-gram is longer than the longest name + <s> + </s>: a higher order would have empty tables
        config["order"] = min(config["order"], int(encoded.lengths.max()) + 2)
        V, N = config["vocab_size"], config["order"]
        adj = _adjusted_counts(encoded, V, N)

        # interpolated probabilities of the seen n-grams, from the lowest order up
        params: dict[str, np.ndarray] = {}
        model_so_far = cls.__new__(cls)
        model_so_far.params, model_so_far.config = params, config
        for k in range(1, N + 1):
            ctx_keys, target, counts = adj[k]  # sorted by (context, target)
            D = _discounts(counts, config["discount"])
            new_ctx = np.r_[True, ctx_keys[1:] != ctx_keys[:-1]]  # ctx_keys are sorted
            keys, owner = ctx_keys[new_ctx], np.cumsum(new_ctx) - 1  # the seen contexts h, each n-gram's one
            total = np.bincount(owner, counts)  # c(h •)
            Dc = D[np.minimum(counts, 3)]  # each n-gram's discount
            gamma = np.bincount(owner, Dc) / total  # gamma(h)
            pair = ctx_keys * (V + 1) + target
            lower = (np.full(pair.size, 1.0 / V) if k == 1
                     else np.exp(model_so_far._seen_logp(k - 1, _parent(pair, k, V))))
            p = np.maximum(counts - Dc, 0.0) / total[owner] + gamma[owner] * lower
            params[f"ctx{k}"], params[f"bow{k}"] = keys.astype(np.int64), np.log(gamma).astype(np.float32)
            params[f"pair{k}"], params[f"logp{k}"] = pair.astype(np.int64), np.log(p).astype(np.float32)
        config["contexts"] = [int(params[f"ctx{k}"].size) for k in range(1, N + 1)]
        config["ngrams"] = [int(params[f"pair{k}"].size) for k in range(1, N + 1)]
        return cls(config, params)

    # ----- lookup ------------------------------------------------------------------------
    def _logp(self, hist: np.ndarray) -> np.ndarray:
        """Log-probabilities ``(M, V)`` for histories ``hist (M, N-1)`` (oldest first, NONE-padded).

        Rows share histories heavily (a batch of names in generation or evaluation),
        so each distinct history is computed once (:meth:`_logp_rows`) and gathered.
        """
        if hist.shape[0] <= 16 or self.order == 1:
            return self._logp_rows(hist)
        keys = _encode(hist, self.vocab_size)  # one integer per history (NONE is digit 0)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if uniq.size == hist.shape[0]:
            return self._logp_rows(hist)
        return self._logp_rows(hist[first])[inverse]

    def _seen_contexts(self, hist: np.ndarray):
        """For each order ``k`` from 1 up: the rows of ``hist (M, N-1)`` whose context of ``k-1`` symbols
        was seen in training, and its position in ``ctx{k}``; stops at the first order where none was.

        A context's key is its shorter suffix's key plus one older digit, so each order
        adds one multiply-add. A history padded with ``NONE`` (digit 0) at that position
        gets a key below every stored key of that length and is never found.
        """
        V, N = self.vocab_size, self.order
        rows = np.arange(hist.shape[0])
        keys = np.zeros(rows.size, dtype=np.int64)
        for k in range(1, N + 1):
            L = k - 1
            if L:
                keys = keys + (hist[rows, N - 1 - L].astype(np.int64) + 1) * (V + 1) ** (L - 1)
            table = self.params[f"ctx{k}"]
            at = np.minimum(np.searchsorted(table, keys), table.size - 1)
            found = table[at] == keys
            rows, at, keys = rows[found], at[found], keys[found]
            if not rows.size:
                return
            yield k, rows, at

    def _logp_rows(self, hist: np.ndarray) -> np.ndarray:
        """Log-probabilities ``(M, V)`` for histories ``hist (M, N-1)``, row by row (vectorised).

        With ``S_k`` the sum of ``log gamma`` over a row's seen contexts up to order
        ``k`` and ``k*`` its longest seen context: ``P(w | h) = P_j(w | h_j) exp(S_k* - S_j)``
        when ``(h_j, w)`` is the highest-order seen n-gram ending in ``w``, and
        ``exp(S_k*) / V`` when ``w`` was never seen after any suffix of ``h``. So one
        fill of the rows, then the seen entries written from low to high order. The
        fill and the low orders come at once from the highest dense table
        (:meth:`_dense_tables`) the row's context reaches.
        """
        V = self.vocab_size
        M = hist.shape[0]
        S = np.zeros(M)  # (M,) running sum of log gamma
        found_at = []  # per order: (rows whose context was seen, the context's keys, S after this order)
        for k, rows, at in self._seen_contexts(hist):
            S[rows] += self.params[f"bow{k}"][at]
            found_at.append((k, rows, at, S[rows].copy()))
        logP = np.empty((M, V), dtype=np.float32)  # (M, V), built in log space: products become sums
        todo = np.ones(M, dtype=bool)
        for k, rows, at, S_k in reversed([f for f in found_at if f[0] in self._dense]):  # highest dense order
            sel = todo[rows]
            r = rows[sel]
            logP[r] = self._dense[k][at[sel]] + (S[r] - S_k[sel])[:, None]  # gammas of the sparse orders above
            todo[r] = False
        if todo.any():  # no dense table (an alphabet too large for one): the uniform floor
            logP[todo] = (S[todo] - np.log(V))[:, None]
        flat = logP.reshape(-1)
        for k, rows, at, S_k in found_at:
            if k in self._dense:
                continue
            lo, n = self._first[k][at], self._count[k][at]  # each row's context's seen n-grams
            idx = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())  # their positions in the table
            shift = np.repeat(S[rows] - S_k, n)  # log gamma products of the orders above k
            flat[np.repeat(rows * V, n) + self._symbol[k][idx]] = self.params[f"logp{k}"][idx] + shift
        return logP

    def _target_logp(self, hist: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``log P(w | h)`` of one target per history ``(M,)``, as an ARPA query: no ``(M, V)`` array.

        The same numbers as :meth:`_logp_rows` at column ``w``: the highest order
        ``j`` whose ``(h_j, w)`` was seen gives ``log P_j(w | h_j) + S_k* - S_j``, and
        a symbol never seen after any suffix gives ``S_k* - log V``.
        """
        V = self.vocab_size
        M = hist.shape[0]
        S = np.zeros(M)  # (M,) running sum of log gamma over the seen contexts
        best = np.full(M, np.nan)  # (M,) log P_j(w | h_j) of the highest order j seen so far
        S_best = np.zeros(M)  # (M,) S after order j
        for k, rows, at in self._seen_contexts(hist):
            S[rows] += self.params[f"bow{k}"][at]
            pair = self.params[f"ctx{k}"][at] * (V + 1) + w[rows]
            ptab = self.params[f"pair{k}"]
            pat = np.minimum(np.searchsorted(ptab, pair), ptab.size - 1)
            hit = ptab[pat] == pair
            best[rows[hit]] = self.params[f"logp{k}"][pat[hit]]
            S_best[rows[hit]] = S[rows[hit]]
        return np.where(np.isnan(best), S - np.log(V), best + S - S_best)

    def initial_state(self, B: int) -> State:
        return (np.full((B, max(self.order - 1, 1)), NONE, dtype=np.int64),)  # (B, N-1)

    def _push(self, hist: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if self.order == 1:
            return hist
        return np.concatenate([hist[:, 1:], ids.astype(np.int64)[:, None]], axis=1)

    def stepper(self) -> StepFn:
        def step(ids: np.ndarray, state: State):
            hist = self._push(state[0], ids)
            return self._logp(hist), (hist,)

        return step

    def _histories(self, batch, state: State | None) -> np.ndarray:
        """The history before each target: ``(B, T, N-1)``."""
        hist = self.initial_state(batch.X.shape[0])[0] if state is None else state[0]
        hists = []
        for t in range(batch.X.shape[1]):
            hist = self._push(hist, batch.X[:, t])
            hists.append(hist)
        return np.stack(hists, axis=1)  # (B, T, N-1)

    def nll(self, batch, state: State | None = None) -> np.ndarray:
        H = self._histories(batch, state)  # (B, T, N-1)
        logp = self._target_logp(H.reshape(-1, H.shape[2]), batch.Y.reshape(-1).astype(np.int64))
        return -logp.reshape(batch.Y.shape) * batch.mask  # (B, T)

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        B, T = batch.X.shape
        V = self.vocab_size
        H = self._histories(batch, state)  # (B, T, N-1)
        logp = self._logp(H.reshape(B * T, -1)).reshape(B, T, V).astype(np.float64)  # (B, T, V)
        nll = -np.take_along_axis(logp, batch.Y[..., None].astype(np.int64), axis=2)[..., 0] * batch.mask
        lengths = batch.mask.sum(axis=1).astype(np.int64)
        final = H[np.arange(B), np.maximum(lengths - 1, 0)]
        return float(nll.sum() / batch.norm), {"logits": logp, "nll": nll, "final_state": (final,)}
