"""Padded mini-batches and length-bucketed batch order.

A name ``c1 .. cn`` becomes one row of a batch (shape legend: B batch, T time)::

    X = [0,  c1, c2, ..., cn]      inputs; id 0 (the end token) doubles as "start"
    Y = [c1, c2, ...,  cn,  0]      targets; the last target is the end token
    mask = 1 for these n+1 positions, 0 for padding on the right

so ``X[:, t]`` predicts ``Y[:, t]``. Padding sits after each name, so it never
influences a real position; the mask removes it from the loss and therefore
from every gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .vocab import Encoded


@dataclass(frozen=True)
class Batch:
    X: np.ndarray  # (B, T) int32 input ids, X[:, 0] == 0 (start)
    Y: np.ndarray  # (B, T) int32 target ids, 0 = end of name
    mask: np.ndarray  # (B, T) float, 1 on real positions
    norm: float = 1.0  # the loss is sum(token NLL * mask) / norm
    styles: np.ndarray | None = None  # (B,) int32 style id per row (conditional models), None = no style
    factors: np.ndarray | None = None  # (B, F) int32 value id per further factor (kind, sex), None = none

    @property
    def size(self) -> int:
        return self.X.shape[0]

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def lengths(self) -> np.ndarray:
        """Number of real positions per row (name length + 1)."""
        return self.mask.sum(axis=1).astype(np.int64)  # (B,)


def pad(encoded: Encoded, idx: np.ndarray | None = None, *, dtype=np.float64, norm: str | float = "tokens") -> Batch:
    """The names ``idx`` of ``encoded`` (all of them by default) as one padded :class:`Batch`.

    ``norm="tokens"`` makes the loss the mean NLL per predicted symbol (what
    mini-batch training wants); ``norm="sum"`` (or 1.0) keeps the summed NLL,
    which is the notebook's loss for a batch of one name; a number divides by it.
    """
    idx = np.arange(len(encoded)) if idx is None else np.asarray(idx, dtype=np.int64)
    starts, n = encoded.offsets[idx], encoded.lengths[idx]  # (B,)
    B, T = idx.size, int(n.max(initial=0)) + 1
    t = np.arange(T)  # (T,)
    real = t[None, :] < n[:, None]  # (B, T) positions holding a character
    Y = np.zeros((B, T), dtype=np.int32)
    Y[real] = encoded.ids[(starts[:, None] + t[None, :])[real]]
    X = np.zeros((B, T), dtype=np.int32)
    X[:, 1:] = Y[:, :-1]
    mask = (t[None, :] <= n[:, None]).astype(dtype)  # (B, T) characters and the end token
    if norm == "tokens":
        norm_value = float(n.sum() + B)
    elif norm == "sum":
        norm_value = 1.0
    else:
        norm_value = float(norm)
    return Batch(X, Y, mask, norm_value, None if encoded.styles is None else encoded.styles[idx],
                 None if encoded.factors is None else encoded.factors[idx])


def make_batch(encoded: Sequence[np.ndarray] | Encoded, *, dtype=np.float64, norm: str | float = "tokens") -> Batch:
    """Pad a list of encoded names (int arrays without end token), or an :class:`Encoded`, into a Batch."""
    if not isinstance(encoded, Encoded):
        encoded = Encoded.from_arrays(encoded)
    return pad(encoded, dtype=dtype, norm=norm)


def batch_order(
    lengths: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    bucket: bool = True,
    pool_batches: int = 64,
) -> list[np.ndarray]:
    """One epoch of batches (index arrays) over names of the given lengths.

    The names are shuffled; with ``bucket=True`` each pool of ``pool_batches``
    batches is sorted by length before being cut into batches, so a batch holds
    names of similar length and padding stays small, and the batches are then
    shuffled again so lengths do not come in order. Every name appears exactly
    once per epoch; the last batch may be smaller.
    """
    n = len(lengths)
    perm = rng.permutation(n)
    if bucket:
        pool = batch_size * pool_batches
        chunks = []
        for start in range(0, n, pool):
            idx = perm[start : start + pool]
            chunks.append(idx[np.argsort(lengths[idx], kind="stable")])
        perm = np.concatenate(chunks)
    batches = [perm[i : i + batch_size] for i in range(0, n, batch_size)]
    if bucket:
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    return batches


def balanced_draw(styles: np.ndarray, power: float, rng: np.random.Generator) -> np.ndarray:
    """One epoch's names (indices, with repetition) drawn so style ``s``, with ``n_s`` names, gets a share
    proportional to ``n_s ** power`` (the tempered sampling of multilingual models: ``power`` 1 is the corpus
    as given, 0 every style equally often). As many draws as names; each name of a style is equally likely.
    """
    counts = np.bincount(styles)  # (S,)
    share = np.where(counts > 0, counts.astype(np.float64), 0.0) ** power  # (S,) 0 ** p stays 0 for p > 0
    share[counts == 0] = 0.0
    p = share[styles] / counts[styles]  # (N,) each name's probability, before normalising
    return rng.choice(styles.size, size=styles.size, replace=True, p=p / p.sum())


EVAL_CELLS = 8 << 20  # at most this many (position x symbol) cells of logits in one evaluation batch


def length_sorted_batches(encoded: Encoded, rows: int = 1024, width: int = 1,
                          cells: int = EVAL_CELLS) -> list[np.ndarray]:
    """Index arrays covering every name once, sorted by length, so evaluation batches carry little padding.

    At most ``rows`` names per batch, and at most ``cells`` of ``rows x T x width``
    (``width`` = the model's alphabet, the last axis of its logits): thousands of
    symbols or very long items give smaller batches instead of gigabytes of logits.
    """
    order = np.argsort(encoded.lengths, kind="stable")
    steps = encoded.lengths[order] + 1  # (N,) predictions per name, ascending
    out, i, n = [], 0, order.size
    while i < n:
        j = min(i + rows, n)
        while j - i > 1 and (j - i) * steps[j - 1] * width > cells:
            j = i + max(1, min(j - i - 1, cells // int(steps[j - 1] * width)))
        out.append(order[i:j])
        i = j
    return out
