"""The model contract, checked for every registered trainable model.

* float64 central-difference gradient check of every parameter on a padded
  batch (relative error < 1e-6);
* ``step()`` reproduces ``forward()``'s logits position by position;
* a checkpoint round trip gives identical logits.
"""

from __future__ import annotations

import numpy as np
import pytest

from namesmith.checkpoint import load_checkpoint, save_checkpoint
from namesmith.models import MODELS

from conftest import FITTED_EXAMPLES, build_model, example_models, model_configs


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||), 0 when both vanish."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numeric_grad(f, p: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    g = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        old = p[idx]
        p[idx] = old + eps
        fp = f()
        p[idx] = old - eps
        fm = f()
        p[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


build = build_model


def test_every_registered_model_has_contract_tests():
    for kind, cls in MODELS.items():
        assert cls.trainable or kind in FITTED_EXAMPLES, f"add an example of {kind} to conftest.FITTED_EXAMPLES"


@pytest.mark.parametrize("kind,cfg", model_configs())
def test_gradient_check(kind, cfg, tiny_vocab, padded_batch):
    model = build(kind, cfg, tiny_vocab)
    train = bool(cfg.get("dropout"))

    def loss():
        # the same dropout masks on every evaluation: a fresh generator with a fixed seed
        rng = np.random.default_rng(7) if train else None
        return model.forward(padded_batch, train=train, rng=rng)[0]

    rng = np.random.default_rng(7) if train else None
    _, cache = model.forward(padded_batch, train=train, rng=rng)
    grads = model.backward(cache)
    assert set(grads) == set(model.params)
    for name, p in model.params.items():
        assert grads[name].shape == p.shape, name
        num = numeric_grad(loss, p)
        err = rel_error(num, grads[name])
        assert err < 1e-6, f"{kind} {name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind,cfg", example_models())
def test_step_matches_forward(kind, cfg, tiny_vocab, padded_batch):
    model = build(kind, cfg, tiny_vocab, seed=1)
    _, cache = model.forward(padded_batch)  # eval mode: no dropout
    state = model.initial_state(padded_batch.size)
    for t in range(padded_batch.X.shape[1]):
        logits, state = model.step(padded_batch.X[:, t], state)
        np.testing.assert_allclose(logits, cache["logits"][:, t], rtol=1e-6 if cfg is None else 1e-10,
                                   atol=1e-6 if cfg is None else 1e-12)


@pytest.mark.parametrize("kind,cfg", example_models())
def test_nll_is_forwards_nll_with_and_without_styles(kind, cfg, tiny_vocab, padded_batch):
    """The contract: nll() (scoring's fast path) gives forward()'s nll, also when the rows carry styles."""
    from dataclasses import replace

    model = build(kind, cfg, tiny_vocab, seed=6)
    np.testing.assert_allclose(model.nll(padded_batch), model.forward(padded_batch)[1]["nll"], rtol=1e-5, atol=1e-6)
    if model.styles:
        styled = replace(padded_batch, styles=np.array([0, 1, model.styles, 0, 1], dtype=np.int32))
        np.testing.assert_allclose(model.nll(styled), model.forward(styled)[1]["nll"], rtol=1e-5, atol=1e-6)
        assert not np.allclose(model.nll(styled), model.nll(padded_batch))


@pytest.mark.parametrize("kind,cfg", example_models())
def test_checkpoint_round_trip(kind, cfg, tiny_vocab, padded_batch, tmp_path):
    model = build(kind, cfg, tiny_vocab, seed=2)
    path = tmp_path / "m.npz"
    styles = {"names": [f"style {i}" for i in range(model.styles)], "counts": [1] * model.styles}
    save_checkpoint(path, model, tiny_vocab, {"train": {"step": 3}, "styles": styles})
    ck = load_checkpoint(path)
    assert ck.vocab == tiny_vocab and ck.step == 3 and ck.model.kind == kind
    assert ck.model.config == model.config
    a = model.forward(padded_batch)[1]["logits"]
    b = ck.model.forward(padded_batch)[1]["logits"]
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kind,cfg", example_models())
def test_next_char_distributions_sum_to_one(kind, cfg, tiny_vocab, padded_batch):
    model = build(kind, cfg, tiny_vocab, seed=4)
    logits = model.forward(padded_batch)[1]["logits"].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    assert np.all(np.isfinite(p))
    if cfg is None:  # count models return log-probabilities themselves
        np.testing.assert_allclose(np.exp(logits).sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kind,cfg", example_models())
def test_final_state_is_state_after_last_real_position(kind, cfg, tiny_vocab, padded_batch):
    model = build(kind, cfg, tiny_vocab, seed=3)
    _, cache = model.forward(padded_batch)
    lengths = padded_batch.lengths
    for row in range(padded_batch.size):
        state = model.initial_state(1)
        for t in range(lengths[row]):
            _, state = model.step(padded_batch.X[row : row + 1, t], state)
        for s, f in zip(state, cache["final_state"]):
            np.testing.assert_allclose(s[0], f[row], rtol=1e-10, atol=1e-12)


# ----- large alphabets: the paths taken from ROWWISE_V / DENSE_SCATTER_V symbols and when V > tokens ----------
def _large_alphabet():
    from namesmith.batch import make_batch
    from namesmith.vocab import Vocab

    vocab = Vocab.from_names(["".join(chr(0x4E00 + i) for i in range(200))])  # 201 symbols: CJK-like
    ids = [[5, 17, 199], [3], [], [150, 150, 2, 40]]  # 4 rows x 5 positions = 20 tokens < V
    return vocab, make_batch([np.array(r, dtype=np.int32) for r in ids], dtype=np.float64, norm="tokens")


RECURRENT_LARGE = (("onehot", {"hidden": 3}), ("embed", {"hidden": 3, "embed": 2, "layers": 2}))
LARGE_EXAMPLES = {"rnn": RECURRENT_LARGE, "gru": RECURRENT_LARGE, "lstm": RECURRENT_LARGE,
                  "transformer": (("tied", {"embed": 4, "heads": 2, "hidden": 3, "block": 4, "tie": True}),),
                  "mlp": (("window", {"embed": 2, "hidden": 3, "block": 3}),)}
LARGE = [pytest.param(kind, cfg, id=f"{kind}-{name}") for kind, cls in MODELS.items() if cls.trainable
         for name, cfg in LARGE_EXAMPLES[kind]]
RECURRENT = [p for p in LARGE if p.values[0] in ("rnn", "gru", "lstm")]


@pytest.mark.parametrize("kind,cfg", LARGE)
def test_gradient_check_large_alphabet(kind, cfg):
    """Row-wise softmax, sorted scatter-add and token projection (V > B*T) are exact too."""
    vocab, batch = _large_alphabet()
    model = build(kind, cfg, vocab)
    if cfg.get("embed") and hasattr(model, "_input_forward"):  # recurrent models
        assert model._input_forward(batch.X.T)[1][0] == "tokens"  # this batch takes the token path
    _, cache = model.forward(batch)
    grads = model.backward(cache)
    for name, p in model.params.items():
        err = rel_error(numeric_grad(lambda: model.forward(batch)[0], p), grads[name])
        assert err < 1e-6, f"{kind} {name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind,cfg", RECURRENT)
def test_large_alphabet_step_and_table_match_forward(kind, cfg):
    from namesmith.models.layers import lookup_forward

    vocab, batch = _large_alphabet()
    model = build(kind, cfg, vocab, seed=3)
    Xt = batch.X.T
    np.testing.assert_allclose(model._input_forward(Xt)[0], lookup_forward(model._input_table(), Xt)[0],
                               rtol=1e-12, atol=1e-12)
    _, cache = model.forward(batch)
    state = model.initial_state(batch.size)
    for t in range(batch.X.shape[1]):
        logits, state = model.step(batch.X[:, t], state)
        np.testing.assert_allclose(logits, cache["logits"][:, t], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,cfg", model_configs())
def test_float32_stays_float32(kind, cfg, tiny_vocab, padded_batch):
    """A float32 model computes in float32 throughout: logits, state and every gradient (a float64 scalar or
    table slipping in would silently double the cost of every product)."""
    from dataclasses import replace

    model = MODELS[kind].create({"vocab_size": tiny_vocab.size, "dtype": "float32", **cfg}, np.random.default_rng(0))
    batch = replace(padded_batch, mask=padded_batch.mask.astype(np.float32))
    rng = np.random.default_rng(1)
    _, cache = model.forward(batch, train=True, rng=rng)
    assert cache["logits"].dtype == np.float32
    assert {k: g.dtype for k, g in model.backward(cache).items()} == {k: np.dtype(np.float32) for k in model.params}
    logits, state = model.step(batch.X[:, 0], model.initial_state(batch.size))
    assert logits.dtype == np.float32
    assert all(s.dtype in (np.float32, np.int64) for s in state)
