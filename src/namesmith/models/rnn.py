"""The vanilla (Elman) RNN of the seed notebook, batched.

Equations, with the code's names (column form as in the notebook; the code works
on row batches, ``x W^T`` for ``W x``)::

    a<t> = tanh(Wax x<t> + Waa a<t-1> + b)        hidden state      (B, H)
    y<t> = softmax(Wya a<t> + by)                  next-char probs   (B, V)
    loss = -sum_t log y<t>[target<t>]              end token included

``x<t>`` is one-hot (or an embedding row when ``embed > 0``); ``x<0>`` is the
zero vector. Backpropagation through time, for ``dh<t>`` the gradient arriving
at ``a<t>`` from the output and from step ``t+1``::

    draw<t> = dh<t> * (1 - a<t>^2)                 through tanh
    dWaa    = sum_t draw<t>^T a<t-1>               one product after the loop
    dh<t-1> += draw<t> Waa                         carried back one step
    dWax, db from draw via the input lookup (see recurrent.py)
"""

from __future__ import annotations

import numpy as np

from .recurrent import Cell, RecurrentLM


def rnn_cell(xa_t: np.ndarray, h_prev: np.ndarray, WaaT: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a<t> = tanh(xa_t + a<t-1> Waa^T)`` written into ``out (B, H)``; ``xa_t = Wax x<t> + b``.

    In place, because for small batches the per-call overhead, not the arithmetic, is the cost.
    """
    np.matmul(h_prev, WaaT, out=out)
    out += xa_t
    return np.tanh(out, out=out)


def rnn_step_forward(xa_t: np.ndarray, h_prev: np.ndarray, Waa: np.ndarray) -> np.ndarray:
    """One step for a batch of rows: ``a<t> (B, H)``."""
    return rnn_cell(xa_t, h_prev, Waa.T, np.empty_like(xa_t))


def rnn_forward(xa: np.ndarray, h0: np.ndarray, Waa: np.ndarray):
    """Run the recurrence over ``xa (T, B, H)`` from ``h0 (B, H)``; returns ``hs (T, B, H)``."""
    hs = np.empty_like(xa)  # (T, B, H)
    WaaT = Waa.T
    h = h0
    for t in range(xa.shape[0]):
        h = rnn_cell(xa[t], h, WaaT, hs[t])
    return hs, (hs, h0, Waa)


def rnn_backward(dhs: np.ndarray, cache):
    """BPTT. ``dhs (T, B, H)`` from above; returns ``dxa (T, B, H)``, ``dh0 (B, H)``, ``dWaa (H, H)``."""
    hs, h0, Waa = cache
    T = hs.shape[0]
    dtanh = hs * hs  # (T, B, H)
    np.subtract(1.0, dtanh, out=dtanh)  # 1 - a^2, the derivative of tanh
    draw = np.empty_like(hs)  # (T, B, H)
    dnext = np.zeros_like(h0)  # (B, H)
    for t in range(T - 1, -1, -1):
        d = draw[t]  # (B, H)
        np.add(dhs[t], dnext, out=d)
        d *= dtanh[t]
        dnext = d @ Waa  # (B, H)
    H = hs.shape[-1]
    hprev = np.concatenate([h0[None], hs[:-1]])  # (T, B, H)
    dWaa = draw.reshape(-1, H).T @ hprev.reshape(-1, H)  # (H, H)
    return draw, dnext, dWaa


class RNNCell(Cell):
    gates = 1
    state_names = ("h0",)
    Wx, b, Wh = "Wax", "b", "Waa"

    @staticmethod
    def forward(xa, state0, p):
        hs, cache = rnn_forward(xa, state0[0], p["Waa"])
        return hs, (hs,), cache

    @staticmethod
    def backward(dhs, cache):
        dxa, dh0, dWaa = rnn_backward(dhs, cache)
        return dxa, (dh0,), {"Waa": dWaa}

    @staticmethod
    def step(xa_t, state, p):
        h = rnn_step_forward(xa_t, state[0], p["Waa"])
        return h, (h,)


class RNN(RecurrentLM):
    """Vanilla tanh RNN language model (the notebook's model when embed=0, layers=1)."""

    kind = "rnn"
    cell = RNNCell
