"""Plain reference implementations of the recurrent cells, written straight from the docstring equations.

The cells in ``rnn.py``, ``gru.py`` and ``lstm.py`` are fused and work in place
(one product for all gates, preallocated buffers, factors hoisted out of the
time loop), which makes them fast and hard to read. These functions do the same
arithmetic the obvious way, one step at a time with fresh arrays and the
equations' own names, so a reader can check the math here and the tests check
that the fast cells compute exactly these numbers, forward and backward
(``tests/test_reference_cells.py``).

Shapes: ``xa (T, B, G)`` input projections with bias (G = H, 3H or 4H), states
``(B, H)``, recurrent weights ``(G, H)``; ``dhs (T, B, H)`` is the gradient
arriving at each output from above. Backward functions return the gradients of
``xa``, of the initial state(s) and of the weights.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


# ----- vanilla RNN:  a<t> = tanh(xa<t> + a<t-1> Waa^T) ---------------------------------------------------
def rnn_forward(xa, h0, Waa):
    hs, h = [], h0
    for t in range(xa.shape[0]):
        h = np.tanh(xa[t] + h @ Waa.T)
        hs.append(h)
    return np.stack(hs)


def rnn_backward(dhs, xa, h0, Waa):
    hs = rnn_forward(xa, h0, Waa)
    dxa, dWaa, dnext = np.zeros_like(xa), np.zeros_like(Waa), np.zeros_like(h0)
    for t in reversed(range(xa.shape[0])):
        h_prev = h0 if t == 0 else hs[t - 1]
        dh = dhs[t] + dnext
        draw = dh * (1 - hs[t] ** 2)  # through tanh
        dxa[t] = draw
        dWaa += draw.T @ h_prev
        dnext = draw @ Waa
    return dxa, dnext, dWaa


# ----- GRU (gru.py's docstring) ----------------------------------------------------------------------------
def gru_step(xa_t, h_prev, Wh, bn):
    H = h_prev.shape[1]
    xr, xz, xn = xa_t[:, :H], xa_t[:, H : 2 * H], xa_t[:, 2 * H :]
    hr, hz, hn = h_prev @ Wh[:H].T, h_prev @ Wh[H : 2 * H].T, h_prev @ Wh[2 * H :].T
    r = sigmoid(xr + hr)  # reset gate
    z = sigmoid(xz + hz)  # update gate
    n = np.tanh(xn + r * (hn + bn.T))  # candidate
    h = (1 - z) * n + z * h_prev  # new state
    return h, (r, z, n, hn + bn.T)


def gru_forward(xa, h0, Wh, bn):
    hs, h = [], h0
    for t in range(xa.shape[0]):
        h, _ = gru_step(xa[t], h, Wh, bn)
        hs.append(h)
    return np.stack(hs)


def gru_backward(dhs, xa, h0, Wh, bn):
    H = h0.shape[1]
    hs = gru_forward(xa, h0, Wh, bn)
    dxa, dWh, dbn, dnext = np.zeros_like(xa), np.zeros_like(Wh), np.zeros_like(bn), np.zeros_like(h0)
    for t in reversed(range(xa.shape[0])):
        h_prev = h0 if t == 0 else hs[t - 1]
        _, (r, z, n, hnb) = gru_step(xa[t], h_prev, Wh, bn)
        dh = dhs[t] + dnext
        dn = dh * (1 - z)
        dz = dh * (h_prev - n)
        dh_prev = dh * z
        dan = dn * (1 - n**2)  # the candidate's pre-activation
        dr = dan * hnb
        dar, daz = dr * r * (1 - r), dz * z * (1 - z)  # the gates' pre-activations
        dhn = dan * r  # the recurrent part of the candidate (with bn)
        dxa[t, :, :H], dxa[t, :, H : 2 * H], dxa[t, :, 2 * H :] = dar, daz, dan
        for k, d in enumerate((dar, daz, dhn)):
            dWh[k * H : (k + 1) * H] += d.T @ h_prev
            dh_prev = dh_prev + d @ Wh[k * H : (k + 1) * H]
        dbn += dhn.sum(axis=0)[:, None]
        dnext = dh_prev
    return dxa, dnext, dWh, dbn


# ----- LSTM (lstm.py's docstring): gates in the order i, f, g, o ----------------------------------------------
def lstm_step(xa_t, h_prev, c_prev, Wh):
    H = h_prev.shape[1]
    a = xa_t + h_prev @ Wh.T
    i = sigmoid(a[:, :H])  # input gate
    f = sigmoid(a[:, H : 2 * H])  # forget gate
    g = np.tanh(a[:, 2 * H : 3 * H])  # candidate
    o = sigmoid(a[:, 3 * H :])  # output gate
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (i, f, g, o)


def lstm_forward(xa, h0, c0, Wh):
    hs, cs, h, c = [], [], h0, c0
    for t in range(xa.shape[0]):
        h, c, _ = lstm_step(xa[t], h, c, Wh)
        hs.append(h)
        cs.append(c)
    return np.stack(hs), np.stack(cs)


def lstm_backward(dhs, xa, h0, c0, Wh):
    hs, cs = lstm_forward(xa, h0, c0, Wh)
    dxa, dWh = np.zeros_like(xa), np.zeros_like(Wh)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(xa.shape[0])):
        h_prev = h0 if t == 0 else hs[t - 1]
        c_prev = c0 if t == 0 else cs[t - 1]
        _, c, (i, f, g, o) = lstm_step(xa[t], h_prev, c_prev, Wh)
        dh = dhs[t] + dh_next
        dc = dc_next + dh * o * (1 - np.tanh(c) ** 2)
        dai = dc * g * i * (1 - i)
        daf = dc * c_prev * f * (1 - f)
        dag = dc * i * (1 - g**2)
        dao = dh * np.tanh(c) * o * (1 - o)
        da = np.concatenate([dai, daf, dag, dao], axis=1)
        dxa[t] = da
        dWh += da.T @ h_prev
        dh_next = da @ Wh
        dc_next = dc * f
    return dxa, dh_next, dc_next, dWh
