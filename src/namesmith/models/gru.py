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

from .recurrent import Cell, RecurrentLM


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # stable for any x


def gru_step_forward(xa_t, h_prev, Wh, bn):
    """One GRU step; returns ``h (B, H)`` and the step cache."""
    H = h_prev.shape[1]
    gh = h_prev @ Wh.T  # (B, 3H)
    rz = _sigmoid(xa_t[:, : 2 * H] + gh[:, : 2 * H])  # (B, 2H)
    r, z = rz[:, :H], rz[:, H:]
    hn = gh[:, 2 * H :] + bn.T  # (B, H)
    n = np.tanh(xa_t[:, 2 * H :] + r * hn)  # (B, H)
    h = n + z * (h_prev - n)  # (B, H) == (1 - z) n + z h_prev
    return h, (rz, n, hn)


def gru_forward(xa, h0, Wh, bn):
    T, B, G = xa.shape
    H = G // 3
    hs = np.empty((T, B, H), dtype=xa.dtype)  # (T, B, H)
    rz = np.empty((T, B, 2 * H), dtype=xa.dtype)  # (T, B, 2H)
    ns = np.empty((T, B, H), dtype=xa.dtype)  # (T, B, H)
    hns = np.empty((T, B, H), dtype=xa.dtype)  # (T, B, H)
    h = h0
    for t in range(T):
        h, (rz[t], ns[t], hns[t]) = gru_step_forward(xa[t], h, Wh, bn)
        hs[t] = h
    return hs, (hs, h0, rz, ns, hns, Wh)


def gru_backward(dhs, cache):
    hs, h0, rz, ns, hns, Wh = cache
    T, B, H = hs.shape
    hprev = np.concatenate([h0[None], hs[:-1]])  # (T, B, H)
    r, z = rz[..., :H], rz[..., H:]
    # elementwise factors that do not depend on the incoming gradient, for all t at once
    dn_dh = 1.0 - z  # (T, B, H)
    dz_dh = (hprev - ns) * z * (1.0 - z)  # (T, B, H)
    dan_dn = 1.0 - ns * ns  # (T, B, H)
    dr_dan = hns * r * (1.0 - r)  # (T, B, H)
    dxa = np.empty((T, B, 3 * H), dtype=hs.dtype)  # (T, B, 3H)
    dgh = np.empty((T, B, 3 * H), dtype=hs.dtype)  # (T, B, 3H)
    dnext = np.zeros_like(h0)  # (B, H)
    for t in range(T - 1, -1, -1):
        dh = dhs[t] + dnext  # (B, H)
        dan = dh * dn_dh[t] * dan_dn[t]  # (B, H)
        dxa[t, :, :H] = dgh[t, :, :H] = dan * dr_dan[t]
        dxa[t, :, H : 2 * H] = dgh[t, :, H : 2 * H] = dh * dz_dh[t]
        dxa[t, :, 2 * H :] = dan
        dgh[t, :, 2 * H :] = dan * r[t]
        dnext = dh * z[t] + dgh[t] @ Wh  # (B, H)
    dWh = dgh.reshape(-1, 3 * H).T @ hprev.reshape(-1, H)  # (3H, H)
    dbn = dgh[..., 2 * H :].reshape(-1, H).sum(axis=0)[:, None]  # (H, 1)
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
