"""The transformer's and the MLP's own ops and properties, beyond the contract tests every model gets.

Each new op (layer norm, GELU, causal windowed attention) is checked alone against
float64 central differences; the models are checked for causality (a later
character never changes an earlier prediction), for the sliding window beyond
``block`` and for their key/value and window states.
"""

from __future__ import annotations

import numpy as np
import pytest

from namesmith.batch import make_batch
from namesmith.models import MODELS
from namesmith.models.layers import gelu_backward, gelu_forward, layernorm_backward, layernorm_forward
from namesmith.models.transformer import attention_backward, attention_forward, window_mask

from conftest import build_model
from test_gradcheck import numeric_grad, rel_error


def _check(f, inputs: dict, analytic: dict):
    for name, x in inputs.items():
        err = rel_error(numeric_grad(f, x), analytic[name])
        assert err < 1e-7, f"{name}: relative error {err:.2e}"


def test_layernorm_gradients():
    rng = np.random.default_rng(0)
    x, g, b = rng.normal(size=(3, 4, 5)), rng.normal(size=5), rng.normal(size=5)
    R = rng.normal(size=(3, 4, 5))  # loss = sum(y * R): dy = R
    y, cache = layernorm_forward(x, g, b)
    np.testing.assert_allclose(((y - b) / g).mean(-1), 0, atol=1e-12)  # normalised before the gain and shift
    dx, dg, db = layernorm_backward(R, cache)
    _check(lambda: float((layernorm_forward(x, g, b)[0] * R).sum()), {"x": x, "g": g, "b": b},
           {"x": dx, "g": dg, "b": db})


def test_gelu_gradient_and_values():
    x = np.linspace(-4, 4, 17)
    y, cache = gelu_forward(x)
    assert abs(y[-1] - 4) < 1e-3 and abs(y[0]) < 1e-3 and y[8] == 0  # ~x for large x, ~0 for very negative
    R = np.random.default_rng(1).normal(size=x.shape)
    _check(lambda: float((gelu_forward(x)[0] * R).sum()), {"x": x}, {"x": gelu_backward(R, cache)})


@pytest.mark.parametrize("heads,P", [(1, 5), (3, 5), (2, 2)])
def test_attention_gradients(heads, P):
    rng = np.random.default_rng(heads + P)
    qkv = rng.normal(size=(2, 5, 3 * 6))  # B=2, T=5, D=6
    R = rng.normal(size=(2, 5, 6))
    y, cache = attention_forward(qkv, heads, P)
    _check(lambda: float((attention_forward(qkv, heads, P)[0] * R).sum()), {"qkv": qkv},
           {"qkv": attention_backward(R, cache)})


def test_window_mask():
    m = window_mask(5, 2)
    assert m.tolist() == [[j in (i - 1, i) and j >= 0 for j in range(5)] for i in range(5)]
    assert np.array_equal(window_mask(4, 4), np.tril(np.ones((4, 4), bool)))


def _batch(vocab, names):
    return make_batch([vocab.encode(n) for n in names], dtype=np.float64, norm="tokens")


@pytest.mark.parametrize("kind,cfg", [("transformer", {"embed": 4, "heads": 2, "layers": 2, "hidden": 6, "block": 8}),
                                      ("transformer", {"embed": 4, "heads": 2, "hidden": 5, "block": 3}),
                                      ("mlp", {"embed": 3, "hidden": 5, "block": 3})])
def test_causal_a_later_character_changes_no_earlier_prediction(kind, cfg, tiny_vocab):
    model = build_model(kind, cfg, tiny_vocab)
    a = model.forward(_batch(tiny_vocab, ["annabe"]))[1]["logits"]
    b = model.forward(_batch(tiny_vocab, ["annobe"]))[1]["logits"]  # differs at character 4 (input position 4)
    np.testing.assert_array_equal(a[:, :4], b[:, :4])
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_beyond_block_the_window_forgets_the_start(tiny_vocab):
    """With block P, one layer's prediction at position t depends on positions t-P+1 .. t only (L layers see
    L(P-1)+1 positions back)."""
    model = build_model("transformer", {"embed": 4, "heads": 2, "hidden": 5, "block": 3, "layers": 1}, tiny_vocab)
    a = model.forward(_batch(tiny_vocab, ["annabe"]))[1]["logits"]
    b = model.forward(_batch(tiny_vocab, ["bnnabe"]))[1]["logits"]  # differs at character 0 (input position 1)
    assert not np.allclose(a[:, 1:4], b[:, 1:4])
    np.testing.assert_allclose(a[:, 4:], b[:, 4:], rtol=1e-12, atol=1e-12)


def test_transformer_state_is_a_fixed_shape_ring(tiny_vocab):
    model = build_model("transformer", {"embed": 4, "heads": 2, "layers": 2, "hidden": 6, "block": 3}, tiny_vocab)
    state = model.initial_state(2)
    assert len(state) == 1 + 2 * 2 and state[0].tolist() == [0, 0]
    assert all(s.shape == (2, 2, 3, 2) for s in state[1:])  # (B, heads, block, head size)
    ids = np.array([1, 2])
    for _ in range(5):
        _, state = model.step(ids, state)
    assert state[0].tolist() == [5, 5] and all(s.shape == (2, 2, 3, 2) for s in state[1:])


def test_mlp_window_state(tiny_vocab):
    model = build_model("mlp", {"embed": 3, "hidden": 5, "block": 3}, tiny_vocab)
    state = model.initial_state(1)
    for c in (0, 4, 7, 9):
        _, state = model.step(np.array([c]), state)
    assert state[0].tolist() == [[4, 7, 9]]


def test_tied_transformer_has_no_output_matrix(tiny_vocab):
    tied = MODELS["transformer"].create({"vocab_size": tiny_vocab.size, "embed": 4, "heads": 2, "tie": True},
                                        np.random.default_rng(0))
    assert "Wya" not in tied.params and "wte" in tied.params


@pytest.mark.parametrize("bad,msg", [({"embed": 6, "heads": 4}, "multiple of --heads"),
                                     ({"block": 0}, "block"), ({"tie": 1}, "tie")])
def test_transformer_config_errors(bad, msg):
    from namesmith.errors import ConfigError

    with pytest.raises(ConfigError, match=msg):
        MODELS["transformer"].check_config({"vocab_size": 5, **bad})
