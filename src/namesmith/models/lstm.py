"""Long short-term memory (LSTM) language model, gates fused in one product per step.

Equations with the code's names (row form; ``xa<t> = x<t> Wx^T + b^T`` holds the
four gate pre-activations' input parts, computed before the time loop)::

    [ai, af, ag, ao] = xa<t> + h<t-1> Wh^T       one (B, H) x (H, 4H) product
    i = sigmoid(ai)   f = sigmoid(af)   g = tanh(ag)   o = sigmoid(ao)
    c<t> = f * c<t-1> + i * g                      cell state   (B, H)
    h<t> = o * tanh(c<t>)                          output       (B, H)

The forget-gate bias starts at 1 (Jozefowicz et al., 2015). Backward, for
``dh`` arriving at ``h<t>`` and ``dc`` arriving at ``c<t>`` from step t+1::

    dc += dh * o * (1 - tanh(c)^2)
    dai = dc * g * i(1-i);  daf = dc * c<t-1> * f(1-f)
    dag = dc * i * (1-g^2); dao = dh * tanh(c) * o(1-o)
    dh<t-1> = [dai, daf, dag, dao] Wh;  dc<t-1> = dc * f
"""

from __future__ import annotations

import numpy as np

from .recurrent import Cell, RecurrentLM


def lstm_cell(xa_t, h_prev, c_prev, WhT, gates, c_out, tc_out, h_out):
    """One LSTM step written into the given buffers (in place; see the module docstring).

    ``gates (B, 4H)`` receives i, f, g, o after their nonlinearities; ``c_out``, ``tc_out``
    (``tanh(c)``) and ``h_out`` are ``(B, H)``. Returns ``h_out, c_out``.
    """
    H = h_prev.shape[1]
    np.matmul(h_prev, WhT, out=gates)
    gates += xa_t
    # sigmoid(x) = (tanh(x / 2) + 1) / 2 for i, f, o; tanh for g
    gates[:, : 2 * H] *= 0.5
    gates[:, 3 * H :] *= 0.5
    np.tanh(gates, out=gates)
    gates[:, : 2 * H] += 1.0
    gates[:, : 2 * H] *= 0.5
    gates[:, 3 * H :] += 1.0
    gates[:, 3 * H :] *= 0.5
    np.multiply(gates[:, H : 2 * H], c_prev, out=c_out)  # f * c<t-1>
    c_out += gates[:, :H] * gates[:, 2 * H : 3 * H]  # + i * g
    np.tanh(c_out, out=tc_out)
    np.multiply(gates[:, 3 * H :], tc_out, out=h_out)  # o * tanh(c)
    return h_out, c_out


def lstm_step_forward(xa_t, h_prev, c_prev, Wh):
    """One LSTM step for a batch of rows; returns ``h, c (B, H)`` and the gates ``(B, 4H)``."""
    B, H = h_prev.shape
    dt = xa_t.dtype
    gates = np.empty((B, 4 * H), dt)
    h, c = lstm_cell(xa_t, h_prev, c_prev, Wh.T, gates, np.empty((B, H), dt), np.empty((B, H), dt),
                     np.empty((B, H), dt))
    return h, c, gates


def lstm_forward(xa, h0, c0, Wh):
    """The recurrence over ``xa (T, B, 4H)`` from ``h0, c0 (B, H)``."""
    T, B, G = xa.shape
    H = G // 4
    dt = xa.dtype
    hs = np.empty((T, B, H), dtype=dt)  # (T, B, H)
    cs = np.empty((T, B, H), dtype=dt)  # (T, B, H)
    tcs = np.empty((T, B, H), dtype=dt)  # (T, B, H) tanh(c)
    gates = np.empty((T, B, G), dtype=dt)  # (T, B, 4H): i, f, g, o after their nonlinearities
    WhT = Wh.T
    h, c = h0, c0
    for t in range(T):
        h, c = lstm_cell(xa[t], h, c, WhT, gates[t], cs[t], tcs[t], hs[t])
    return hs, cs, (hs, cs, tcs, gates, h0, c0, Wh)


def lstm_backward(dhs, cache):
    hs, cs, tc, gates, h0, c0, Wh = cache
    T, B, H = hs.shape
    i, f, g, o = (gates[..., k * H : (k + 1) * H] for k in range(4))
    cprev = np.concatenate([c0[None], cs[:-1]])  # (T, B, H)
    hprev = np.concatenate([h0[None], hs[:-1]])  # (T, B, H)
    # factors independent of the incoming gradient, for all t at once
    dc_dh = o * (1.0 - tc * tc)  # (T, B, H)
    dao_dh = tc * o * (1.0 - o)  # (T, B, H)
    dai_dc = g * i * (1.0 - i)
    daf_dc = cprev * f * (1.0 - f)
    dag_dc = i * (1.0 - g * g)
    da = np.empty((T, B, 4 * H), dtype=hs.dtype)  # (T, B, 4H)
    dh = np.empty_like(h0)  # (B, H)
    dc = np.empty_like(c0)  # (B, H)
    dh_next = np.zeros_like(h0)  # (B, H)
    dc_next = np.zeros_like(c0)  # (B, H)
    for t in range(T - 1, -1, -1):
        np.add(dhs[t], dh_next, out=dh)
        np.multiply(dh, dc_dh[t], out=dc)
        dc += dc_next
        dat = da[t]
        np.multiply(dc, dai_dc[t], out=dat[:, :H])
        np.multiply(dc, daf_dc[t], out=dat[:, H : 2 * H])
        np.multiply(dc, dag_dc[t], out=dat[:, 2 * H : 3 * H])
        np.multiply(dh, dao_dh[t], out=dat[:, 3 * H :])
        dh_next = dat @ Wh  # (B, H)
        dc_next = dc * f[t]  # (B, H)
    dWh = da.reshape(-1, 4 * H).T @ hprev.reshape(-1, H)  # (4H, H)
    return da, dh_next, dc_next, dWh


class LSTMCell(Cell):
    gates = 4
    state_names = ("h0", "c0")
    Wx, b, Wh = "Wx", "b", "Wh"

    @classmethod
    def init_bias(cls, H, dtype):
        b = np.zeros((4 * H, 1), dtype=dtype)
        b[H : 2 * H] = 1.0  # forget gate
        return b

    @staticmethod
    def forward(xa, state0, p):
        hs, cs, cache = lstm_forward(xa, state0[0], state0[1], p["Wh"])
        return hs, (hs, cs), cache

    @staticmethod
    def backward(dhs, cache):
        dxa, dh0, dc0, dWh = lstm_backward(dhs, cache)
        return dxa, (dh0, dc0), {"Wh": dWh}

    @staticmethod
    def step(xa_t, state, p):
        h, c, _ = lstm_step_forward(xa_t, state[0], state[1], p["Wh"])
        return h, (h, c)


class LSTM(RecurrentLM):
    """LSTM language model: stacked LSTM cells between the input lookup and a softmax."""

    kind = "lstm"
    cell = LSTMCell
