"""The fused recurrent cells compute exactly what the plain reference equations say, forward and backward.

The references (``tests/reference_cells.py``, not shipped) are written straight from the
docstrings; the fused cells reorder, fuse and work in place. A swapped gate, a
transposed weight or a dropped term in either breaks these comparisons.
"""

from __future__ import annotations

import numpy as np
import pytest

from namesmith.models import GRU, LSTM
from namesmith.models.gru import gru_backward, gru_forward
from namesmith.models.lstm import lstm_backward, lstm_forward
from namesmith.models.rnn import rnn_backward, rnn_forward

import reference_cells as reference

T, B, H = 5, 3, 4


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_rnn_cell_matches_reference(rng):
    xa, h0, W = rng.normal(size=(T, B, H)), rng.normal(size=(B, H)), rng.normal(size=(H, H)) * 0.5
    hs, cache = rnn_forward(xa, h0, W)
    np.testing.assert_allclose(hs, reference.rnn_forward(xa, h0, W), rtol=1e-12, atol=1e-14)
    dhs = rng.normal(size=(T, B, H))
    for got, want in zip(rnn_backward(dhs, cache), reference.rnn_backward(dhs, xa, h0, W)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_gru_cell_matches_reference(rng):
    xa, h0 = rng.normal(size=(T, B, 3 * H)), rng.normal(size=(B, H))
    W, bn = rng.normal(size=(3 * H, H)) * 0.5, rng.normal(size=(H, 1))
    hs, cache = gru_forward(xa, h0, W, bn)
    np.testing.assert_allclose(hs, reference.gru_forward(xa, h0, W, bn), rtol=1e-12, atol=1e-14)
    dhs = rng.normal(size=(T, B, H))
    for got, want in zip(gru_backward(dhs, cache), reference.gru_backward(dhs, xa, h0, W, bn)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_lstm_cell_matches_reference(rng):
    xa, h0, c0 = rng.normal(size=(T, B, 4 * H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    W = rng.normal(size=(4 * H, H)) * 0.5
    hs, cs, cache = lstm_forward(xa, h0, c0, W)
    ref_hs, ref_cs = reference.lstm_forward(xa, h0, c0, W)
    np.testing.assert_allclose(hs, ref_hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cs, ref_cs, rtol=1e-12, atol=1e-14)
    dhs = rng.normal(size=(T, B, H))
    for got, want in zip(lstm_backward(dhs, cache), reference.lstm_backward(dhs, xa, h0, c0, W)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_reference_backward_is_the_gradient(rng):
    """The references themselves against finite differences (so they are a trustworthy yardstick)."""
    xa, h0, c0 = rng.normal(size=(2, 2, 4 * 2)), rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    W = rng.normal(size=(8, 2))
    dhs = rng.normal(size=(2, 2, 2))

    def loss():
        return float((reference.lstm_forward(xa, h0, c0, W)[0] * dhs).sum())

    _, _, _, dW = reference.lstm_backward(dhs, xa, h0, c0, W)
    eps, num = 1e-6, np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        old = W[idx]
        W[idx] = old + eps
        up = loss()
        W[idx] = old - eps
        num[idx] = (up - loss()) / (2 * eps)
        W[idx] = old
    np.testing.assert_allclose(dW, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layers", [1, 2])
def test_initial_biases(layers):
    """LSTM: forget gate (slice H:2H in the order i, f, g, o) starts at 1, the rest at 0; GRU: all 0."""
    Hh = 6
    lstm = LSTM.create({"vocab_size": 5, "hidden": Hh, "layers": layers}, np.random.default_rng(0))
    for key in ("b",) + tuple(f"b_{k}" for k in range(1, layers)):
        b = lstm.params[key][:, 0]
        expected = np.zeros(4 * Hh)
        expected[Hh : 2 * Hh] = 1.0
        np.testing.assert_array_equal(b, expected)
    gru = GRU.create({"vocab_size": 5, "hidden": Hh, "layers": layers}, np.random.default_rng(0))
    assert not any(gru.params[k].any() for k in gru.params if k.startswith("b"))
