"""Stateless ops shared by the models, each a forward/backward pair with an explicit cache.

Shape legend: N rows (B*T positions), V vocabulary, D input width, O output width.
Weights use the notebook's orientation ``W (O, D)`` and column biases ``b (O, 1)``,
so ``y = W x + b`` for a column ``x``; on row batches that is ``y = x W^T + b^T``.
"""

from __future__ import annotations

import numpy as np


DENSE_SCATTER_V = 128  # alphabets up to this size scatter gradients with a dense one-hot product
ROWWISE_V = 128  # alphabets from this size take the softmax along rows (no transposed copy)


# ----- table lookup (one-hot input times a weight matrix) -------------------
def lookup_forward(table: np.ndarray, ids: np.ndarray):
    """``out[...] = table[ids[...]]``: the product of one-hot rows with ``table (V, G)``.

    Identical to ``onehot(ids) @ table`` but costs a gather instead of a product.
    """
    return table[ids], (ids, table.shape, table.dtype)  # (..., G)


def lookup_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``dtable = onehot(ids)^T @ dout``: the scatter-add of ``dout`` rows into the rows of ``ids``.

    For the small alphabets of names (V <= ``DENSE_SCATTER_V``) as one dense
    ``(V, N) x (N, G)`` product, much faster than ``np.add.at``; for large
    alphabets (thousands of CJK symbols) that product costs V x N x G, so the rows
    are sorted by id and summed per id (``np.add.reduceat``): N x G.
    """
    ids, (V, G), dtype = cache
    dout = dout.reshape(-1, G)  # (N, G)
    if V <= DENSE_SCATTER_V:
        onehot_t = (ids.reshape(1, -1) == np.arange(V, dtype=ids.dtype)[:, None]).astype(dtype)  # (V, N)
        return onehot_t @ dout  # (V, G)
    flat = ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    sorted_ids = flat[order]
    first = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # each id's first row
    dtable = np.zeros((V, G), dtype=dout.dtype)  # (V, G)
    dtable[sorted_ids[first]] = np.add.reduceat(dout[order], first, axis=0)
    return dtable


# ----- affine ----------------------------------------------------------------
def linear_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray):
    """``y = x W^T + b^T`` for rows ``x (N, D)``, ``W (O, D)``, ``b (O, 1)``."""
    return x @ W.T + b.T, (x, W)  # (N, O)


def colsum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=0)`` for a 2-D array, as a product with a ones vector.

    Summing down the columns of a tall, narrow array with ``sum(axis=0)`` is
    several times slower in NumPy than the equivalent vector-matrix product.
    """
    return np.ones(x.shape[0], dtype=x.dtype) @ x


def linear_backward(dy: np.ndarray, cache):
    """Returns ``dx (N, D)``, ``dW (O, D)``, ``db (O, 1)``."""
    x, W = cache
    return dy @ W, dy.T @ x, colsum(dy)[:, None]


# ----- softmax + cross-entropy -----------------------------------------------
def logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(sum(exp(z)))`` along ``axis`` (removed), stable: ``max + log(sum(exp(z - max)))``."""
    m = z.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.exp(z - m).sum(axis=axis))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log softmax(z)`` over the last axis, stable: ``z - max - log(sum(exp(z - max)))``."""
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_xent_forward(logits: np.ndarray, Y: np.ndarray, mask: np.ndarray, norm: float):
    """Cross-entropy of ``softmax(logits)`` against targets ``Y``.

    ``logits (N, V)``, ``Y (N,)``, ``mask (N,)``. Per-token NLL is
    ``nll_i = -log p_i[Y_i] = logsumexp(z_i) - z_i[Y_i]``; the loss is
    ``sum(nll * mask) / norm``. For the small alphabets of names the work is done
    on the transposed ``(V, N)`` array - one column per position, as in the
    notebook - because NumPy reduces along the long axis many times faster than
    along rows of ~30 symbols; from ``ROWWISE_V`` symbols the rows are long
    enough and the transposed copy would cost more than it saves.
    The cache keeps the probabilities for backward.
    """
    cols = np.arange(Y.size)
    rowwise = logits.shape[1] >= ROWWISE_V
    axis = 1 if rowwise else 0
    z = logits.copy() if rowwise else logits.T.copy()  # (N, V) or (V, N), a copy: the caller's logits stay intact
    z -= z.max(axis=axis, keepdims=True)  # shifted for stability
    zy = z[cols, Y] if rowwise else z[Y, cols]  # (N,)
    e = np.exp(z, out=z)
    s = e.sum(axis=axis, keepdims=True)  # (N, 1) or (1, N)
    nll = (np.log(s.reshape(-1)) - zy) * mask  # (N,)
    e /= s
    return nll.sum() / norm, nll, (e, Y, mask, norm, rowwise)


def softmax_xent_backward(cache) -> np.ndarray:
    """``dloss/dlogits = (softmax(z) - onehot(Y)) * mask / norm``, as an ``(N, V)`` array or view.

    Consumes the cache (the probabilities are turned into the gradient in place).
    """
    dz, Y, mask, norm, rowwise = cache  # probabilities, reused as the gradient
    cols = np.arange(Y.size)
    if rowwise:
        dz[cols, Y] -= 1
        dz *= (mask / norm)[:, None]
        return dz  # (N, V)
    dz[Y, cols] -= 1
    dz *= mask / norm
    return dz.T  # (N, V)


# ----- inverted dropout -------------------------------------------------------
def dropout_forward(x: np.ndarray, p: float, rng: np.random.Generator, shape: tuple[int, ...] | None = None):
    """Zero each unit with probability ``p`` and scale the rest by ``1/(1-p)``.

    ``shape`` (broadcastable to ``x``'s) draws fewer masks: ``(1, B, H)`` for ``(T, B, H)`` outputs keeps one
    mask per name for all its positions (variational or "locked" dropout, Gal & Ghahramani 2016).
    """
    keep = (rng.random(shape or x.shape, dtype=x.dtype) >= p).astype(x.dtype) / (1.0 - p)
    return x * keep, keep


def dropout_backward(dy: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return dy * keep


# ----- layer normalisation ------------------------------------------------------
LN_EPS = 1e-5


def layernorm_forward(x: np.ndarray, g: np.ndarray, b: np.ndarray):
    """``y = xhat * g + b`` with ``xhat = (x - mean(x)) / sqrt(var(x) + eps)`` over the last axis.

    ``x (..., D)``, ``g, b (D,)``. The cache keeps ``xhat`` and ``rstd = 1/sqrt(var + eps)``.
    """
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)
    xc = x - mu  # (..., D)
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + LN_EPS)  # (..., 1)
    xhat = xc * rstd  # (..., D)
    return xhat * g + b, (xhat, rstd, g)


def layernorm_backward(dy: np.ndarray, cache):
    """Returns ``dx (..., D)``, ``dg (D,)``, ``db (D,)``::

        dxhat = dy * g
        dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    """
    xhat, rstd, g = cache
    D = xhat.shape[-1]
    dg = (dy * xhat).reshape(-1, D).sum(axis=0)  # (D,)
    db = dy.reshape(-1, D).sum(axis=0)  # (D,)
    dxhat = dy * g  # (..., D)
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return dx, dg, db


# ----- GELU (the tanh approximation of GPT-2 and llm.c) ------------------------------
GELU_K = float(np.sqrt(2.0 / np.pi))


def gelu_forward(x: np.ndarray):
    """``y = 0.5 x (1 + tanh(u))`` with ``u = sqrt(2/pi) (x + 0.044715 x^3)``; the cache keeps ``x, tanh(u)``."""
    th = np.tanh(GELU_K * (x + 0.044715 * x * x * x))
    return 0.5 * x * (1.0 + th), (x, th)


def gelu_backward(dy: np.ndarray, cache) -> np.ndarray:
    """``dy * (0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2))``."""
    x, th = cache
    return dy * (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * GELU_K * (1.0 + 3 * 0.044715 * x * x))
