"""Gated recurrent unit (GRU) language model, gates fused in one product per step.

Equations with the code's names (row form; ``xa<t> = x<t> Wx^T + b^T`` holds the
three input projections ``[xr, xz, xn]``, computed before the time loop, and
``gh<t> = h<t-1> Wh^T`` the three recurrent ones ``[hr, hz, hn]``)::

    r<t> = sigmoid(xr + hr)                     reset gate        (B, H)
    z<t> = sigmoid(xz + hz)                     update gate       (B, H)
    n<t> = tanh(xn + r<t> * (hn + bn))          candidate         (B, H)
    h<t> = (1 - z<t>) * n<t> + z<t> * h<t-1>    new state         (B, H)

This is the cuDNN/PyTorch form, where the reset gate multiplies the recurrent
product, so all three recurrent products are one ``(B, H) x (H, 3H)`` product.
Backward, for ``dh`` arriving at ``h<t>``::

    dn = dh * (1 - z);  dz = dh * (h<t-1> - n);  dh<t-1> = dh * z + dgh Wh
    dan = dn * (1 - n^2);  dr = dan * (hn + bn)
    dxa = [dr * r(1-r), dz * z(1-z), dan];  dgh = [dxr, dxz, dan * r];  dbn = sum dan * r
"""

from __future__ import annotations

import numpy as np

from .layers import colsum
from .recurrent import Cell, RecurrentLM


def gru_cell(xa_t, h_prev, WhT, bnT, gh, rz, hn, n, out):
    """One GRU step written into the given buffers (in place; see the module docstring).

    ``gh (B, 3H)`` scratch; ``rz (B, 2H)`` gates after the sigmoid; ``hn (B, H)`` = hn + bn;
    ``n (B, H)`` the candidate; ``out (B, H)`` the new state, which is returned.
    """
    H = h_prev.shape[1]
    np.matmul(h_prev, WhT, out=gh)
    np.add(xa_t[:, : 2 * H], gh[:, : 2 * H], out=rz)
    rz *= 0.5  # sigmoid(a) = (tanh(a / 2) + 1) / 2
    np.tanh(rz, out=rz)
    rz += 1.0
    rz *= 0.5
    np.add(gh[:, 2 * H :], bnT, out=hn)
    np.multiply(rz[:, :H], hn, out=n)
    n += xa_t[:, 2 * H :]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=out)  # h = n + z (h_prev - n) = (1 - z) n + z h_prev
    out *= rz[:, H:]
    out += n
    return out


def gru_step_forward(xa_t, h_prev, Wh, bn):
    """One GRU step for a batch of rows; returns ``h (B, H)`` and the step cache."""
    B, H = h_prev.shape
    dt = xa_t.dtype
    rz, hn, n = np.empty((B, 2 * H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
    h = gru_cell(xa_t, h_prev, Wh.T, bn.T, np.empty((B, 3 * H), dt), rz, hn, n, np.empty((B, H), dt))
    return h, (rz, n, hn)


def gru_forward(xa, h0, Wh, bn):
    """The recurrence over ``xa (T, B, 3H)`` from ``h0 (B, H)``; returns ``hs (T, B, H)``."""
    T, B, G = xa.shape
    H = G // 3
    dt = xa.dtype
    hs = np.empty((T, B, H), dtype=dt)  # (T, B, H)
    rz = np.empty((T, B, 2 * H), dtype=dt)  # (T, B, 2H) gates after the sigmoid
    ns = np.empty((T, B, H), dtype=dt)  # (T, B, H) candidates
    hns = np.empty((T, B, H), dtype=dt)  # (T, B, H) hn + bn
    gh = np.empty((B, G), dtype=dt)  # (B, 3H) scratch
    WhT, bnT = Wh.T, bn.T
    h = h0
    for t in range(T):
        h = gru_cell(xa[t], h, WhT, bnT, gh, rz[t], hns[t], ns[t], hs[t])
    return hs, (hs, h0, rz, ns, hns, Wh)


def gru_backward(dhs, cache):
    hs, h0, rz, ns, hns, Wh = cache
    T, B, H = hs.shape
    hprev = np.concatenate([h0[None], hs[:-1]])  # (T, B, H)
    r, z = rz[..., :H], rz[..., H:]
    # elementwise factors that do not depend on the incoming gradient, for all t at once
    dan_dh = (1.0 - z) * (1.0 - ns * ns)  # (T, B, H)
    dz_dh = (hprev - ns) * z * (1.0 - z)  # (T, B, H)
    dr_dan = hns * r * (1.0 - r)  # (T, B, H)
    dxa = np.empty((T, B, 3 * H), dtype=hs.dtype)  # (T, B, 3H)
    dgh = np.empty((T, B, 3 * H), dtype=hs.dtype)  # (T, B, 3H)
    dh = np.empty_like(h0)  # (B, H)
    dnext = np.zeros_like(h0)  # (B, H)
    for t in range(T - 1, -1, -1):
        np.add(dhs[t], dnext, out=dh)
        dan = dxa[t, :, 2 * H :]
        np.multiply(dh, dan_dh[t], out=dan)
        np.multiply(dan, dr_dan[t], out=dgh[t, :, :H])
        np.multiply(dh, dz_dh[t], out=dgh[t, :, H : 2 * H])
        np.multiply(dan, r[t], out=dgh[t, :, 2 * H :])
        dnext = dgh[t] @ Wh  # (B, H)
        dh *= z[t]
        dnext += dh
    dxa[..., : 2 * H] = dgh[..., : 2 * H]
    dWh = dgh.reshape(-1, 3 * H).T @ hprev.reshape(-1, H)  # (3H, H)
    dbn = colsum(dgh.reshape(-1, 3 * H))[2 * H :, None]  # (H, 1)
    return dxa, dnext, dWh, dbn


class GRUCell(Cell):
    gates = 3
    state_names = ("h0",)
    Wx, b, Wh = "Wx", "b", "Wh"
    extra = ("bn",)

    @classmethod
    def extra_shapes(cls, H):
        return {"bn": (H, 1)}

    @staticmethod
    def forward(xa, state0, p):
        hs, cache = gru_forward(xa, state0[0], p["Wh"], p["bn"])
        return hs, (hs,), cache

    @staticmethod
    def backward(dhs, cache):
        dxa, dh0, dWh, dbn = gru_backward(dhs, cache)
        return dxa, (dh0,), {"Wh": dWh, "bn": dbn}

    @staticmethod
    def step(xa_t, state, p):
        h, _ = gru_step_forward(xa_t, state[0], p["Wh"], p["bn"])
        return h, (h,)


class GRU(RecurrentLM):
    """GRU language model: stacked GRU cells between the input lookup and a softmax."""

    kind = "gru"
    cell = GRUCell
