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

A history never seen in training has ``c(h •) = 0`` and ``P(· | h) = P(· | h')``
exactly, so the model stores, for every order ``k`` and every context of length
``k-1`` seen in training, the full interpolated distribution (``logp{k}``,
sorted by an integer key of the context, ``keys{k}``). ``step`` and ``forward``
look up the longest stored suffix of the history: no gradient steps, fitted from
counts in one pass (:meth:`NGram.fit`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..vocab import Encoded
from .base import Cache, FittedModel, State, StepFn, int_option

NONE = -1  # "no symbol": positions before the start symbol in a history


def _encode(ctx: np.ndarray, V: int) -> np.ndarray:
    """Integer keys of contexts ``ctx (..., L)`` with symbols in [0, V): base V+1, digits s+1."""
    key = np.zeros(ctx.shape[:-1], dtype=np.int64)
    for j in range(ctx.shape[-1]):
        key = key * (V + 1) + (ctx[..., j].astype(np.int64) + 1)
    return key


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


class NGram(FittedModel):
    """Kneser-Ney n-gram language model (see module docstring)."""

    kind = "ngram"
    normalized: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"order": 6, "discount": None, "contexts": None}

    @classmethod
    def check_config(cls, config: dict) -> dict:
        out = super().check_config(config)
        out["order"] = int_option(out, "order", 1, 10)
        if (out["vocab_size"] + 1) ** out["order"] >= 2**63:  # the (context, target) ids must fit in int64
            raise ConfigError(f"an n-gram of order {out['order']} over {out['vocab_size']} symbols is too large; "
                              "choose a lower order")
        d = out["discount"]
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d < 1):
            raise ConfigError(f"n-gram discount must be in (0, 1), got {d!r}")
        ctx = out["contexts"]
        if ctx is not None:
            if (not isinstance(ctx, list) or len(ctx) != out["order"]
                    or not all(isinstance(c, int) and 1 <= c <= 50_000_000 for c in ctx)):
                raise ConfigError("n-gram context counts are malformed")
        return out

    @classmethod
    def param_shapes(cls, config: dict) -> dict[str, tuple[int, ...]]:
        V = config["vocab_size"]
        shapes = {}
        for k, n in enumerate(config["contexts"] or [1] * config["order"], start=1):
            shapes[f"keys{k}"] = (n,)
            shapes[f"logp{k}"] = (n, V)
        return shapes

    @classmethod
    def param_dtypes(cls, config: dict) -> dict[str, np.dtype]:
        out = {}
        for k in range(1, config["order"] + 1):
            out[f"keys{k}"] = np.dtype(np.int64)
            out[f"logp{k}"] = np.dtype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict[str, np.ndarray]) -> "NGram":
        model = cls(config, arrays)
        for k in range(1, model.order + 1):
            keys, logp = arrays[f"keys{k}"], arrays[f"logp{k}"]
            if keys.size > 1 and not np.all(np.diff(keys) > 0):
                raise CheckpointError(f"n-gram table {k} is not sorted")
            if np.any(logp > 1e-4):
                raise CheckpointError(f"n-gram table {k} holds probabilities above 1")
            total = np.exp(logp.astype(np.float64)).sum(axis=1)
            if np.any(np.abs(total - 1) > 1e-3):
                raise CheckpointError(f"n-gram table {k} does not hold probability distributions")
        return model

    @property
    def order(self) -> int:
        return self.config["order"]

    def describe(self) -> str:
        n = sum(self.params[f"keys{k}"].size for k in range(1, self.order + 1))
        return f"ngram (order {self.order}, {n:,} contexts)"

    # ----- fitting ---------------------------------------------------------------------
    @classmethod
    def fit(cls, config: dict, encoded: Encoded) -> "NGram":
        """Count n-grams in the encoded names and build the interpolated tables."""
        config = cls.check_config({**config, "contexts": None})
        V, N = config["vocab_size"], config["order"]
        if not len(encoded):
            raise ConfigError("an n-gram model needs at least one training name")
        # inputs X = [<s>, c1..cn] and targets Y = [c1..cn, </s>] of all names, one row per position
        steps = encoded.lengths + 1  # (names,) predictions per name
        starts = np.repeat(np.cumsum(steps) - steps, steps)  # (positions,) index of each position's <s>
        pos = np.arange(starts.size) - starts  # t within the name
        X = np.zeros(starts.size, dtype=np.int64)
        X[pos > 0] = encoded.ids
        Y = np.zeros(starts.size, dtype=np.int64)
        Y[pos < np.repeat(encoded.lengths, steps)] = encoded.ids

        def context(L: int) -> tuple[np.ndarray, np.ndarray]:
            """Rows with a full history of L symbols, and those symbols (rows, L)."""
            rows = np.flatnonzero(pos + 1 >= L)
            if L == 0:
                return rows, np.zeros((rows.size, 0), dtype=np.int64)
            idx = rows[:, None] - np.arange(L - 1, -1, -1)[None, :]  # oldest first
            return rows, X[idx]

        tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # adjusted counts per order, as (context key, target) -> count, highest order first
        adj: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for k in range(N, 0, -1):
            L = k - 1
            rows, ctx = context(L)
            keys = _encode(ctx, V) if L else np.zeros(rows.size, dtype=np.int64)
            pair = keys * (V + 1) + Y[rows]  # unique id of (context, target)
            raw = k == N
            begins_with_start = (rows - L + 1 == starts[rows]) if L else np.zeros(rows.size, bool)
            if raw:
                uniq, counts = np.unique(pair, return_counts=True)
            else:
                # raw counts for n-grams that start with <s>; continuation counts for the rest
                has_left = ~begins_with_start
                u_raw, c_raw = np.unique(pair[begins_with_start], return_counts=True)
                left = X[rows[has_left] - L]  # the symbol before the context
                ext = np.unique(np.stack([pair[has_left], left], axis=1), axis=0)
                u_cont, c_cont = np.unique(ext[:, 0], return_counts=True)
                uniq = np.union1d(u_raw, u_cont)
                counts = np.zeros(uniq.size, dtype=np.int64)
                counts[np.searchsorted(uniq, u_raw)] += c_raw
                counts[np.searchsorted(uniq, u_cont)] += c_cont
            adj[k] = (uniq // (V + 1), uniq % (V + 1), counts)

        # build distributions from the lowest order up
        prev_keys, prev_p = None, None
        for k in range(1, N + 1):
            ctx_keys, target, counts = adj[k]
            D = _discounts(counts, config["discount"])
            keys, inv = np.unique(ctx_keys, return_inverse=True)
            C = np.zeros((keys.size, V), dtype=np.float64)  # adjusted counts c(h w)
            C[inv, target] = counts
            total = C.sum(axis=1, keepdims=True)  # c(h •)
            Dc = D[np.minimum(C, 3).astype(np.int64)]  # discount of each count (0 for unseen)
            gamma = Dc.sum(axis=1, keepdims=True) / total
            if k == 1:
                lower = np.full((keys.size, V), 1.0 / V)
            else:
                # the parent context: drop the oldest symbol, i.e. the highest digit of the key
                parent = keys % ((V + 1) ** (k - 2))
                lower = prev_p[np.searchsorted(prev_keys, parent)]
            P = np.maximum(C - Dc, 0.0) / total + gamma * lower
            tables[k] = (keys, P)
            prev_keys, prev_p = keys, P
        params = {}
        for k, (keys, P) in tables.items():
            params[f"keys{k}"] = keys.astype(np.int64)
            params[f"logp{k}"] = np.log(P).astype(np.float32)
        config["contexts"] = [int(tables[k][0].size) for k in range(1, N + 1)]
        return cls(config, params)

    # ----- lookup ------------------------------------------------------------------------
    def _logp(self, hist: np.ndarray) -> np.ndarray:
        """Log-probabilities for histories ``hist (M, N-1)`` (oldest first, NONE-padded)."""
        V, N = self.vocab_size, self.order
        M = hist.shape[0]
        out = np.empty((M, V), dtype=np.float32)
        todo = np.ones(M, dtype=bool)
        for k in range(N, 0, -1):
            L = k - 1
            ctx = hist[:, N - 1 - L:] if L else hist[:, :0]
            valid = todo & (ctx >= 0).all(axis=1) if L else todo
            if not valid.any():
                continue
            rows = np.flatnonzero(valid)
            keys_table = self.params[f"keys{k}"]
            keys = _encode(ctx[rows], V) if L else np.zeros(rows.size, dtype=np.int64)
            at = np.minimum(np.searchsorted(keys_table, keys), keys_table.size - 1)
            found = keys_table[at] == keys
            out[rows[found]] = self.params[f"logp{k}"][at[found]]
            todo[rows[found]] = False
            if not todo.any():
                break
        return out

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

    def forward(self, batch, state: State | None = None, *, train: bool = False, rng=None) -> tuple[float, Cache]:
        B, T = batch.X.shape
        hist = self.initial_state(B)[0] if state is None else state[0]
        V = self.vocab_size
        hists = []
        for t in range(T):
            hist = self._push(hist, batch.X[:, t])
            hists.append(hist)
        H = np.stack(hists, axis=1)  # (B, T, N-1)
        logp = self._logp(H.reshape(B * T, -1)).reshape(B, T, V).astype(np.float64)  # (B, T, V)
        nll = -np.take_along_axis(logp, batch.Y[..., None].astype(np.int64), axis=2)[..., 0] * batch.mask
        lengths = batch.mask.sum(axis=1).astype(np.int64)
        final = H[np.arange(B), np.maximum(lengths - 1, 0)]
        return float(nll.sum() / batch.norm), {"logits": logp, "nll": nll, "final_state": (final,)}
