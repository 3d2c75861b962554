"""The Kneser-Ney n-gram model against a direct implementation of the formulas."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from namesmith.batch import make_batch
from namesmith.checkpoint import load_checkpoint, read_arrays, save_checkpoint
from namesmith.errors import CheckpointError
from namesmith.models.ngram import NGram
from namesmith.sample import SampleOptions, Sampler

from conftest import draw, kbest
from namesmith.vocab import Vocab

NAMES = ["anna", "annie", "ann", "bob", "bobby", "abba", "nina", "nia", "ian", "ben", "anabel", "bea"]


def write_arrays(path, arrays):
    """Write raw arrays as an .npz, bypassing namesmith's checks (to plant damage)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def reference_kn(names, vocab, order, discount):
    """Interpolated KN computed literally with dictionaries.

    ``discount`` is one discount for every count; ``None`` estimates modified KN's
    three discounts of each order from its counts of counts (Chen & Goodman):
    ``Y = n1/(n1+2 n2)``, ``D1 = 1-2Y n2/n1``, ``D2 = 2-3Y n3/n2``, ``D3+ = 3-4Y n4/n3``,
    each kept in [0.05, its count]; 0.5/1/1.5 when n1 or n2 is 0.
    """
    V = vocab.size
    seqs = [[0] + list(vocab.encode(n)) + [0] for n in names]  # <s> ... </s>, both id 0
    raw = defaultdict(int)  # (context tuple, w) -> raw count, context may start with <s> (first 0)
    for s in seqs:
        for t in range(1, len(s)):
            for L in range(0, order):
                if t - L < 0:
                    break
                raw[(tuple(s[t - L : t]), s[t])] += 1
    left = defaultdict(set)
    for s in seqs:
        for t in range(1, len(s)):
            for L in range(0, order - 1):
                if t - L - 1 < 0:
                    break
                left[(tuple(s[t - L : t]), s[t])].add(s[t - L - 1])

    def adjusted(ctx, w):
        if len(ctx) == order - 1 or (ctx and ctx[0] == 0 and True):
            return raw.get((ctx, w), 0)
        return len(left.get((ctx, w), ()))

    def estimated(k):
        counts = [adjusted(ctx, w) for (ctx, w) in raw if len(ctx) == k - 1]
        n1, n2, n3, n4 = (sum(1 for c in counts if c == i) for i in (1, 2, 3, 4))
        if n1 == 0 or n2 == 0:
            return {1: 0.5, 2: 1.0, 3: 1.5}
        Y = n1 / (n1 + 2 * n2)
        d = {1: 1 - 2 * Y * n2 / n1, 2: 2 - 3 * Y * n3 / n2, 3: 3 - 4 * Y * n4 / n3 if n3 else 3 - 4 * Y}
        return {i: min(max(x, 0.05), float(i)) for i, x in d.items()}

    tables = {k: ({1: discount, 2: discount, 3: discount} if discount is not None else estimated(k))
              for k in range(1, order + 1)}

    def D(k, c):
        return 0.0 if c == 0 else tables[k][min(c, 3)]

    def prob(ctx, w):
        if len(ctx) == 0:
            lower = 1.0 / V
        else:
            lower = prob(ctx[1:], w)
        k = len(ctx) + 1
        counts = [adjusted(ctx, x) for x in range(V)]
        total = sum(counts)
        if total == 0:
            return lower
        gamma = sum(D(k, c) for c in counts) / total
        return max(counts[w] - D(k, counts[w]), 0) / total + gamma * lower

    return prob


@pytest.mark.parametrize("discount", [0.7, None], ids=["fixed", "estimated"])
def test_matches_reference_formulas(discount):
    vocab = Vocab.from_names(NAMES)
    for order in (1, 2, 3, 4):
        model = NGram.fit({"vocab_size": vocab.size, "order": order, "discount": discount},
                          vocab.encode_many(NAMES))
        prob = reference_kn(NAMES, vocab, order, discount)
        for name in ["anna", "bobbie", "zzz"[:0] + "nab", "ia"]:
            ids = [0] + list(vocab.encode(name))
            targets = list(vocab.encode(name)) + [0]
            batch = make_batch([vocab.encode(name)], norm="sum")
            _, cache = model.forward(batch)
            target_nll = model.nll(batch)  # the logit-free lookup scoring uses
            for t, w in enumerate(targets):
                ctx = tuple(ids[max(0, t + 1 - (order - 1)) : t + 1]) if order > 1 else ()
                expected = prob(ctx, w)
                assert np.exp(cache["logits"][0, t, w]) == pytest.approx(expected, rel=2e-6), (order, name, t)
                assert np.exp(-target_nll[0, t]) == pytest.approx(expected, rel=2e-6), (order, name, t)


def test_distributions_sum_to_one_and_step_matches_forward():
    vocab = Vocab.from_names(NAMES)
    model = NGram.fit({"vocab_size": vocab.size, "order": 4}, vocab.encode_many(NAMES))
    hist = np.random.default_rng(0).integers(-1, vocab.size, size=(500, 3))  # random histories, some unseen
    hist[:, 1:][hist[:, :-1] >= 0] = np.maximum(hist[:, 1:][hist[:, :-1] >= 0], 0)  # NONE only at the start
    np.testing.assert_allclose(np.exp(model._logp(hist).astype(np.float64)).sum(1), 1, atol=1e-5)
    batch = make_batch([vocab.encode(n) for n in ["anna", "b", "", "nabila"]])
    _, cache = model.forward(batch)
    state = model.initial_state(batch.size)
    for t in range(batch.X.shape[1]):
        logits, state = model.step(batch.X[:, t], state)
        np.testing.assert_array_equal(logits, cache["logits"][:, t].astype(np.float32))


def test_dense_low_orders_equal_the_sparse_scatter(monkeypatch):
    """The low orders' dense tables (a speed path) give the numbers the sparse tables give, at every split."""
    from namesmith.models import ngram as ngram_module

    vocab = Vocab.from_names(NAMES)
    enc = vocab.encode_many(NAMES)
    rng = np.random.default_rng(3)
    hist = rng.integers(-1, vocab.size, size=(3000, 4))
    hist[:, 1:][hist[:, :-1] >= 0] = np.maximum(hist[:, 1:][hist[:, :-1] >= 0], 0)  # NONE only at the start
    monkeypatch.setattr(ngram_module, "DENSE_CELLS", 0)
    sparse = NGram.fit({"vocab_size": vocab.size, "order": 5}, enc)
    assert sparse._dense == {}
    reference = sparse._logp_rows(hist)
    for cells in (vocab.size, 10 * vocab.size, 1 << 20):  # order 1 dense, orders 1-2, all of them
        monkeypatch.setattr(ngram_module, "DENSE_CELLS", cells)
        model = NGram.fit({"vocab_size": vocab.size, "order": 5}, enc)
        assert 1 <= len(model._dense) and (cells < (1 << 20)) == (len(model._dense) < 5)
        np.testing.assert_allclose(model._logp_rows(hist), reference, rtol=1e-5, atol=1e-5)


def test_target_lookup_equals_the_full_distribution_at_the_target():
    """nll()'s ARPA-style query (no (M, V) array) against _logp_rows on random histories, unseen ones included."""
    vocab = Vocab.from_names(NAMES)
    rng = np.random.default_rng(1)
    for order in (1, 2, 3, 5):
        model = NGram.fit({"vocab_size": vocab.size, "order": order}, vocab.encode_many(NAMES))
        hist = rng.integers(-1, vocab.size, size=(2000, max(order - 1, 1)))
        hist[:, 1:][hist[:, :-1] >= 0] = np.maximum(hist[:, 1:][hist[:, :-1] >= 0], 0)  # NONE only at the start
        w = rng.integers(0, vocab.size, size=2000)
        full = model._logp_rows(hist).astype(np.float64)[np.arange(2000), w]
        np.testing.assert_allclose(model._target_logp(hist, w), full, rtol=1e-5, atol=1e-6)
    batch = make_batch([vocab.encode(n) for n in ["anna", "b", "", "nabila", "yyybe"]])
    np.testing.assert_allclose(model.nll(batch), model.forward(batch)[1]["nll"], rtol=1e-5, atol=1e-6)


def test_score_quantiles_from_an_even_sample_match_all_names():
    from namesmith.score import nll_quantiles

    names = [a + b + c for a in "abelnoy" for b in "abelnoy" for c in ["", "a", "na", "bel", "ly"]]
    vocab = Vocab.from_names(names)
    enc = vocab.encode_many(names)
    model = NGram.fit({"vocab_size": vocab.size, "order": 3}, enc)
    full = nll_quantiles(model, enc, points=11)
    assert np.array_equal(nll_quantiles(model, enc, points=11, sample=len(names)), full)
    part = nll_quantiles(model, enc, points=11, sample=len(names) // 2)
    assert not np.array_equal(part, full)  # it did sample
    np.testing.assert_allclose(part[1:-1], full[1:-1], atol=0.15)


def test_checkpoint_round_trip_and_tampering(tmp_path):
    vocab = Vocab.from_names(NAMES)
    model = NGram.fit({"vocab_size": vocab.size, "order": 3}, vocab.encode_many(NAMES))
    path = tmp_path / "ng.npz"
    save_checkpoint(path, model, vocab)
    ck = load_checkpoint(path)
    batch = make_batch([vocab.encode("annie")])
    assert np.array_equal(ck.model.forward(batch)[1]["logits"], model.forward(batch)[1]["logits"])
    arrays = read_arrays(path)
    arrays["param/pair3"] = arrays["param/pair3"][::-1].copy()
    write_arrays(path, arrays)
    with pytest.raises(CheckpointError, match="sorted"):
        load_checkpoint(path)


def test_sampling_and_kbest_work_unchanged():
    vocab = Vocab.from_names(NAMES)
    model = NGram.fit({"vocab_size": vocab.size, "order": 3}, vocab.encode_many(NAMES))
    s = Sampler(model, vocab)
    out = draw(s, 50, SampleOptions(prefix="an", max_len=8), seed=0).names
    assert all(x.name.startswith("an") and len(x.name) <= 8 for x in out)
    best = kbest(s, 3)
    assert [b.logprob for b in best] == sorted([b.logprob for b in best], reverse=True)


# ----- mixture ----------------------------------------------------------------------------
def test_mixture_is_the_weighted_average_and_em_improves_it():
    from namesmith.models.mixture import Mixture, component_logprobs, fit_weights
    from namesmith.models.rnn import RNN

    vocab = Vocab.from_names(NAMES)
    rng = np.random.default_rng(0)
    neural = RNN.create({"vocab_size": vocab.size, "hidden": 8, "dtype": "float64"}, rng)
    ngram = NGram.fit({"vocab_size": vocab.size, "order": 3}, vocab.encode_many(NAMES[:8]))
    held = NAMES[8:]
    mix = Mixture.of([neural, ngram], [0.25, 0.75])
    batch = make_batch(vocab.encode_many(held))
    p_mix = np.exp(mix.forward(batch)[1]["logits"])
    p1 = np.exp(neural.forward(batch)[1]["logits"])
    p1 /= p1.sum(-1, keepdims=True)
    p2 = np.exp(ngram.forward(batch)[1]["logits"])
    np.testing.assert_allclose(p_mix, 0.25 * p1 + 0.75 * p2, rtol=1e-6)
    np.testing.assert_allclose(mix.nll(batch), mix.forward(batch)[1]["nll"], rtol=1e-6, atol=1e-9)
    w = fit_weights([neural, ngram], vocab.encode_many(held))
    assert sum(w) == pytest.approx(1.0)
    lp = component_logprobs([neural, ngram], vocab.encode_many(held))

    def ll(weights):
        return np.log(np.exp(lp) .T @ np.array(weights)).sum()

    assert ll(w) >= max(ll([0.5, 0.5]), ll([0.25, 0.75]), ll([0.9, 0.1])) - 1e-9


@pytest.mark.parametrize("weights", [[0.5, 0.6], [1.0, 0.0], [-0.5, 1.5], [1.0]])
def test_mixture_refuses_bad_weights(weights, tmp_path):
    from namesmith.errors import ConfigError
    from namesmith.models.mixture import Mixture

    vocab = Vocab.from_names(NAMES)
    ngram = NGram.fit({"vocab_size": vocab.size, "order": 2}, vocab.encode_many(NAMES))
    with pytest.raises(ConfigError):
        Mixture.of([ngram, ngram], weights)


def test_sparse_tables_are_checked_on_load(tmp_path):
    """Probabilities that no longer sum to 1 are refused; a 0.1 dense n-gram file gets a clear message."""
    vocab = Vocab.from_names(NAMES)
    model = NGram.fit({"vocab_size": vocab.size, "order": 3}, vocab.encode_many(NAMES))
    path = tmp_path / "ng.npz"
    save_checkpoint(path, model, vocab)
    arrays = read_arrays(path)
    bad = dict(arrays)
    bad["param/logp2"] = (arrays["param/logp2"] - 0.5).astype(np.float32)  # every seen n-gram less likely
    write_arrays(path, bad)
    with pytest.raises(CheckpointError, match="probability distributions"):
        load_checkpoint(path)
    import json

    meta = json.loads(arrays["__meta__"].tobytes())
    del meta["model"]["config"]["ngrams"]  # what namesmith 0.1 wrote: contexts only, dense tables
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    write_arrays(path, arrays)
    with pytest.raises(CheckpointError, match="dense format; fit it again"):
        load_checkpoint(path)


def test_storage_grows_with_ngrams_not_with_the_alphabet():
    """No table of contexts x alphabet: a larger alphabet with the same names adds no storage."""
    small = Vocab.from_names(NAMES)
    large = Vocab(list(small.chars) + [chr(0x4E00 + i) for i in range(3000)])  # 3,000 unused symbols
    a = NGram.fit({"vocab_size": small.size, "order": 4}, small.encode_many(NAMES))
    b = NGram.fit({"vocab_size": large.size, "order": 4}, large.encode_many(NAMES))
    assert sum(v.nbytes for v in a.params.values()) == sum(v.nbytes for v in b.params.values())
    lp = b._logp(np.array([[-1, -1, 0]]))  # the start of a name
    assert lp.shape == (1, large.size) and abs(np.exp(lp.astype(np.float64)).sum() - 1) < 1e-4
