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


@dataclass(frozen=True)
class Batch:
    X: np.ndarray  # (B, T) int32 input ids, X[:, 0] == 0 (start)
    Y: np.ndarray  # (B, T) int32 target ids, 0 = end of name
    mask: np.ndarray  # (B, T) float, 1 on real positions
    norm: float = 1.0  # the loss is sum(token NLL * mask) / norm

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


def make_batch(
    encoded: Sequence[np.ndarray],
    *,
    dtype=np.float64,
    norm: str | float = "tokens",
) -> Batch:
    """Pad encoded names (int arrays without end token) into a :class:`Batch`.

    ``norm="tokens"`` makes the loss the mean NLL per predicted symbol (what
    mini-batch training wants); ``norm="sum"`` (or 1.0) keeps the summed NLL,
    which is the notebook's loss for a batch of one name.
    """
    B = len(encoded)
    lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=B)  # (B,)
    T = int(lengths.max())
    X = np.zeros((B, T), dtype=np.int32)
    Y = np.zeros((B, T), dtype=np.int32)
    for i, e in enumerate(encoded):
        n = len(e)
        X[i, 1 : n + 1] = e
        Y[i, :n] = e
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(dtype)  # (B, T)
    if norm == "tokens":
        norm_value = float(lengths.sum())
    elif norm == "sum":
        norm_value = 1.0
    else:
        norm_value = float(norm)
    return Batch(X, Y, mask, norm_value)


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
