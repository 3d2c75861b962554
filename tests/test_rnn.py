"""The vanilla RNN against the notebook's own equations, and batching against per-name work."""

from __future__ import annotations

import numpy as np

from namesmith.batch import make_batch
from namesmith.models import MODELS
from namesmith.models.layers import lookup_backward, lookup_forward
from namesmith.models.rnn import RNN
from namesmith.optim import Adam
from namesmith.recipes.seed import init_params
from namesmith.vocab import Vocab

from conftest import TINY_NAMES, perturbed


def notebook_forward_backward(P, X, Y, a0):
    """The notebook's column-vector rnn_forward/rnn_backward, written out for one name."""
    V = P["by"].shape[0]
    x, a, yh = {}, {-1: a0}, {}
    loss = 0.0
    for t in range(len(X)):
        x[t] = np.zeros((V, 1))
        if X[t] is not None:
            x[t][X[t]] = 1
        a[t] = np.tanh(P["Wax"] @ x[t] + P["Waa"] @ a[t - 1] + P["b"])
        z = P["Wya"] @ a[t] + P["by"]
        e = np.exp(z - z.max())
        yh[t] = e / e.sum()
        loss -= np.log(yh[t][Y[t], 0])
    g = {k: np.zeros_like(v) for k, v in P.items()}
    da_next = np.zeros_like(a0)
    for t in reversed(range(len(X))):
        dy = yh[t].copy()
        dy[Y[t]] -= 1
        g["Wya"] += dy @ a[t].T
        g["by"] += dy
        da = P["Wya"].T @ dy + da_next
        draw = (1 - a[t] ** 2) * da
        g["b"] += draw
        g["Wax"] += draw @ x[t].T
        g["Waa"] += draw @ a[t - 1].T
        da_next = P["Waa"].T @ draw
    return loss, g, a[len(X) - 1]


def test_rnn_equals_notebook_equations(tiny_vocab):
    rng = np.random.default_rng(0)
    V, H = tiny_vocab.size, 6
    P = {k: v + rng.normal(0, 0.5, v.shape) for k, v in init_params(H, V).items()}
    model = RNN({"vocab_size": V, "hidden": H, "dtype": "float64"}, {k: v.copy() for k, v in P.items()})
    a0 = rng.normal(size=(H, 1))
    for name in ["anna", "", "bob"]:
        ids = list(tiny_vocab.encode(name))
        loss_nb, g_nb, a_last = notebook_forward_backward(P, [None] + ids, ids + [0], a0)
        batch = make_batch([tiny_vocab.encode(name)], norm="sum")
        loss, cache = model.forward(batch, state=(a0.T,))
        grads = model.backward(cache)
        np.testing.assert_allclose(loss, loss_nb, rtol=1e-12)
        for k in P:
            np.testing.assert_allclose(grads[k], g_nb[k], rtol=1e-10, atol=1e-13, err_msg=k)
        np.testing.assert_allclose(cache["final_state"][0], a_last.T, rtol=1e-12)


def test_lookup_equals_onehot_product():
    rng = np.random.default_rng(1)
    V, G = 9, 5
    table = rng.normal(size=(V, G))
    ids = rng.integers(0, V, size=(4, 7))
    onehot = np.eye(V)[ids]  # (4, 7, V)
    out, cache = lookup_forward(table, ids)
    np.testing.assert_array_equal(out, onehot @ table)
    dout = rng.normal(size=(4, 7, G))
    np.testing.assert_allclose(lookup_backward(dout, cache), onehot.reshape(-1, V).T @ dout.reshape(-1, G))


def test_batched_gradients_equal_sum_of_per_name_gradients(tiny_vocab):
    rng = np.random.default_rng(2)
    for kind in ("rnn", "gru", "lstm"):
        model = perturbed(MODELS[kind].create({"vocab_size": tiny_vocab.size, "hidden": 7, "layers": 2,
                                                "dtype": "float64"}, rng), rng)
        names = ["anna", "bob", "", "emma", "liam", "e"]
        enc = [tiny_vocab.encode(n) for n in names]
        loss_b, cache = model.forward(make_batch(enc, norm="sum"))
        grads_b = model.backward(cache)
        total = {k: np.zeros_like(v) for k, v in model.params.items()}
        loss_sum = 0.0
        for e in enc:
            loss, c = model.forward(make_batch([e], norm="sum"))
            loss_sum += loss
            for k, g in model.backward(c).items():
                total[k] += g
        np.testing.assert_allclose(loss_b, loss_sum, rtol=1e-12)
        for k in total:
            np.testing.assert_allclose(grads_b[k], total[k], rtol=1e-9, atol=1e-12, err_msg=f"{kind} {k}")


def test_padding_changes_nothing(tiny_vocab):
    """A name's loss and gradients are the same alone and padded next to a longer name."""
    rng = np.random.default_rng(3)
    model = perturbed(RNN.create({"vocab_size": tiny_vocab.size, "hidden": 5, "dtype": "float64"}, rng), rng)
    e = tiny_vocab.encode("bob")
    alone = model.forward(make_batch([e], norm="sum"))[1]
    padded = model.forward(make_batch([e, tiny_vocab.encode("annabella")], norm="sum"))[1]
    np.testing.assert_allclose(alone["nll"][0], padded["nll"][0, :4], rtol=1e-13)
    assert np.all(padded["nll"][0, 4:] == 0)


def test_initial_loss_is_log_vocab_per_char(tiny_vocab):
    """With the notebook's tiny initial weights every symbol is ~uniform: loss/char ~ ln V."""
    V = tiny_vocab.size
    model = RNN({"vocab_size": V, "hidden": 50, "dtype": "float64"}, init_params(50, V))
    batch = make_batch([tiny_vocab.encode(n) for n in TINY_NAMES], norm="tokens")
    loss, _ = model.forward(batch)
    assert abs(loss - np.log(V)) < 1e-3
    # namesmith's own initialisation starts close to uniform too
    for kind in ("rnn", "gru", "lstm"):
        m = MODELS[kind].create({"vocab_size": V, "hidden": 64, "embed": 16}, np.random.default_rng(0))
        assert abs(m.forward(batch)[0] - np.log(V)) < 0.15, kind


def test_overfits_a_tiny_corpus():
    names = ["anna", "bob", "otto"]
    vocab = Vocab.from_names(names)
    model = RNN.create({"vocab_size": vocab.size, "hidden": 32, "dtype": "float64"}, np.random.default_rng(0))
    batch = make_batch([vocab.encode(n) for n in names], norm="tokens")
    opt = Adam(betas=(0.9, 0.99))
    for _ in range(400):
        loss, cache = model.forward(batch)
        opt.step(model.params, model.backward(cache), 1e-2)
    # each name's first letter is a 1-in-3 guess (ln 3 nats); everything after it can be learnt,
    # so the floor is 3 ln 3 nats over the 14 predicted symbols
    assert loss < 3 * np.log(3) / 14 + 0.01


def test_forward_leaves_its_logits_intact_for_a_single_position(tiny_vocab):
    """Regression: with one position the transposed logits must still be copied, not shifted in place."""
    model = RNN.create({"vocab_size": tiny_vocab.size, "hidden": 4, "dtype": "float64"}, np.random.default_rng(0))
    model.params["by"][:] = np.arange(tiny_vocab.size)[:, None]
    _, cache = model.forward(make_batch([tiny_vocab.encode("")], norm="sum"))
    state = model.initial_state(1)
    logits, _ = model.step(np.zeros(1, dtype=np.int32), state)
    np.testing.assert_allclose(cache["logits"][0, 0], logits[0])


def test_variational_dropout_keeps_one_mask_per_name_and_weight_drop_one_per_batch(tiny_vocab):
    """variational: the output mask is (1, B, H), the same for every position of a name; weight_drop: a (G, H)
    mask on the recurrent weights; neither is drawn outside training."""
    model = MODELS["lstm"].create({"vocab_size": tiny_vocab.size, "hidden": 6, "dropout": 0.5, "variational": True,
                                   "weight_drop": 0.5, "dtype": "float64"}, np.random.default_rng(0))
    batch = make_batch([tiny_vocab.encode(n) for n in ["anna", "bob", "emma"]], norm="tokens")
    _, cache = model.forward(batch, train=True, rng=np.random.default_rng(1))
    (_, _, keep, wkeep), = cache["inner"][1]
    assert keep.shape == (1, 3, 6) and set(np.unique(keep)) == {0.0, 2.0}
    assert wkeep.shape == model.params["Wh"].shape and set(np.unique(wkeep)) == {0.0, 2.0}
    (_, _, keep, wkeep), = model.forward(batch)[1]["inner"][1]
    assert keep is None and wkeep is None
