"""Generation: constraints always hold, decoding rules are exact, k-best is exact, draws follow the model."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from namesmith.batch import make_batch
from namesmith.corpus import name_hashes
from namesmith.errors import ConfigError, ConstraintError, VocabError
from namesmith.models import MODELS
from namesmith.models.rnn import RNN
from namesmith.sample import SampleOptions, Sampler
from namesmith.score import score_names
from namesmith.vocab import Vocab

from conftest import draw, kbest, perturbed

ALPHA = "abcdefghijklmnopqrstuvwxyz"
TRAIN = ["anna", "emma", "mia", "leo", "noah", "liam", "ava", "eli", "ben", "zoe"]


@pytest.fixture(scope="module")
def sampler():
    vocab = Vocab.from_names([ALPHA])
    rng = np.random.default_rng(0)
    model = perturbed(RNN.create({"vocab_size": vocab.size, "hidden": 16, "dtype": "float64"}, rng), rng, 0.2)
    model.params["by"][0] += 1.5  # end token likely enough that names are short
    return Sampler(model, vocab, known_hashes=name_hashes(TRAIN))


@pytest.fixture(scope="module")
def tiny():
    """A model over {end, a, b}: small enough to enumerate every name."""
    vocab = Vocab.from_names(["ab"])
    rng = np.random.default_rng(5)
    model = perturbed(RNN.create({"vocab_size": vocab.size, "hidden": 4, "dtype": "float64"}, rng), rng, 0.8)
    return Sampler(model, vocab)


def exact_probs(sampler: Sampler, max_len: int, min_len: int = 0) -> dict[str, float]:
    """P(name) of every name under the model with the end token masked below min_len and forced at max_len."""
    model, vocab = sampler.model, sampler.vocab
    out = {}
    for n in range(max_len + 1):
        for chars in itertools.product(vocab.chars[1:], repeat=n):
            name = "".join(chars)
            _, cache = model.forward(make_batch([vocab.encode(name)], norm="sum"))
            p = np.exp(cache["logits"][0] - cache["logits"][0].max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)  # (T, V)
            prob = 1.0
            for t, c in enumerate(vocab.encode(name)):
                q = p[t].copy()
                if t < min_len:
                    q[0] = 0
                prob *= q[c] / q.sum()
            if n < min_len:
                continue
            if n < max_len:
                q = p[n].copy()
                prob *= q[0] / q.sum()
            out[name] = prob
    return out


# ----- constraints hold for every seed ------------------------------------------------
@st.composite
def options(draw):
    prefix = draw(st.text(alphabet="aeimnorl", max_size=3))
    min_len = draw(st.integers(0, 6))
    max_len = draw(st.integers(max(min_len, len(prefix), 1), 10))
    only = draw(st.one_of(st.none(), st.text(alphabet=ALPHA, min_size=3, max_size=10)))
    if only is not None:
        only = "".join(sorted(set(only) | set(prefix)))
    exclude = draw(st.text(alphabet="xyzqj", max_size=3))
    return SampleOptions(prefix=prefix, min_len=min_len, max_len=max_len, only_chars=only,
                         exclude_chars=exclude, temperature=draw(st.sampled_from([0.5, 1.0, 1.7])),
                         top_k=draw(st.sampled_from([None, 3, 30])), top_p=draw(st.sampled_from([None, 0.9])),
                         novel=draw(st.booleans()), unique=draw(st.booleans()), max_tries=20_000)


def test_constraints_always_hold(sampler):
    """Every generated name obeys every exact constraint; at least half of the 80 examples must generate."""
    generated = []

    @given(opts=options(), seed=st.integers(0, 2**53 - 1))
    @settings(max_examples=80, deadline=None, database=None, derandomize=True)
    def check(opts, seed):
        try:
            report = draw(sampler, 20, opts, seed=seed)
        except (ConstraintError, ConfigError):
            return  # contradictory or very narrow constraints: reported as an error, never violated
        names = [s.name for s in report.names]
        assert len(names) == 20
        for s in report.names:
            n = s.name
            assert n.startswith(opts.prefix)
            assert opts.min_len <= len(n) <= opts.max_len
            assert not set(n) & set(opts.exclude_chars)
            if opts.only_chars is not None:
                assert set(n) <= set(opts.only_chars)
            assert s.novel is not None
            if opts.novel:
                assert s.novel and n not in TRAIN
        if opts.unique:
            assert len(set(names)) == len(names)
        generated.append(len(names))

    check()
    assert len(generated) >= 40, f"only {len(generated)} of 80 examples generated names"


@given(seed=st.integers(0, 2**53 - 1))
@settings(max_examples=25, deadline=None)
def test_filters_hold(sampler, seed):
    opts = SampleOptions(suffix="a", contains="n", pattern="^[^q]*$", max_len=12, max_tries=50_000)
    report = draw(sampler, 5, opts, seed=seed)
    for s in report.names:
        assert s.name.endswith("a") and "n" in s.name and re.search("^[^q]*$", s.name)
    assert 0 < report.acceptance <= 1 and report.tries >= 5


def test_same_seed_same_names_and_per_name_seeds(sampler):
    a = draw(sampler, 30, SampleOptions(max_len=12), seed=123)
    b = draw(sampler, 30, SampleOptions(max_len=12), seed=123)
    assert [s.name for s in a.names] == [s.name for s in b.names]
    assert [s.name for s in draw(sampler, 30, SampleOptions(max_len=12), seed=124).names] != \
        [s.name for s in a.names]
    for s in a.names[:10]:
        again = draw(sampler, 1, SampleOptions(max_len=12), seed=s.seed).names[0]
        assert again.name == s.name and again.logprob == pytest.approx(s.logprob)


def test_greedy_is_deterministic_and_equals_top1(sampler):
    g1 = {s.name for s in draw(sampler, 20, SampleOptions(temperature=0), seed=1).names}
    g2 = {s.name for s in draw(sampler, 20, SampleOptions(temperature=0), seed=99).names}
    assert g1 == g2 and len(g1) == 1
    assert {s.name for s in draw(sampler, 5, SampleOptions(top_k=1), seed=3).names} == g1
    assert {s.name for s in draw(sampler, 5, SampleOptions(top_p=1e-9), seed=4).names} == g1


def test_logprob_is_the_models_score(sampler):
    samples = draw(sampler, 20, SampleOptions(prefix="ma", temperature=0.7, top_k=5, min_len=3), seed=7).names
    scores = score_names(sampler.model, sampler.vocab, [s.name for s in samples])
    for s, sc in zip(samples, scores):
        assert s.logprob == pytest.approx(sc.logprob, rel=1e-9)
        assert s.nats_per_char == pytest.approx(sc.nats_per_char, rel=1e-9)


def test_sampling_distribution_matches_forward_probabilities(tiny):
    """Chi-square goodness of fit of 40,000 draws against probabilities computed with forward()."""
    max_len = 3
    probs = exact_probs(tiny, max_len)
    assert sum(probs.values()) == pytest.approx(1.0)
    report = draw(tiny, 40_000, SampleOptions(min_len=0, max_len=max_len), seed=11)
    counts = {k: 0 for k in probs}
    for s in report.names:
        counts[s.name] += 1
    n = len(report.names)
    chi2 = sum((counts[k] - n * p) ** 2 / (n * p) for k, p in probs.items())
    # 15 categories, 14 degrees of freedom: the 0.1% critical value is 36.12
    assert chi2 < 36.12, chi2


def test_min_len_masks_exactly(tiny):
    probs = exact_probs(tiny, 3, min_len=2)
    report = draw(tiny, 20_000, SampleOptions(min_len=2, max_len=3), seed=2)
    counts = {k: 0 for k in probs}
    for s in report.names:
        counts[s.name] += 1
    chi2 = sum((counts[k] - 20_000 * p) ** 2 / (20_000 * p) for k, p in probs.items())
    assert chi2 < 26.12, chi2  # 12 categories, 11 d.o.f., 0.1% critical value


def test_k_best_matches_exhaustive_search(tiny):
    """The K most probable complete names (end token included) among all names up to max_len."""
    max_len = 6
    names = ["".join(c) for n in range(1, max_len + 1) for c in itertools.product("ab", repeat=n)]
    ranked = sorted(score_names(tiny.model, tiny.vocab, names), key=lambda s: -s.logprob)
    best = kbest(tiny, 15, SampleOptions(max_len=max_len))
    assert [b.name for b in best] == [s.name for s in ranked[:15]]
    for b, s in zip(best, ranked):
        assert b.logprob == pytest.approx(s.logprob, rel=1e-9)
    lps = [b.logprob for b in best]
    assert lps == sorted(lps, reverse=True)


@pytest.mark.parametrize("kind,cfg", [("gru", {"hidden": 4}), ("lstm", {"hidden": 4, "layers": 2}),
                                      ("transformer", {"embed": 4, "heads": 2, "hidden": 6, "layers": 2, "block": 3}),
                                      ("mlp", {"embed": 3, "hidden": 5, "block": 2})])
def test_k_best_matches_exhaustive_search_for_every_family(kind, cfg):
    """k-best stacks the states of different prefixes: the transformer's key/value rings (here wrapping, with
    block 3 and names up to 6 characters) and the MLP's windows must stack and reorder like recurrent states."""
    vocab = Vocab.from_names(["ab"])
    rng = np.random.default_rng(3)
    model = perturbed(MODELS[kind].create({"vocab_size": vocab.size, "dtype": "float64", **cfg}, rng), rng, 0.8)
    sampler = Sampler(model, vocab)
    names = ["".join(c) for n in range(1, 7) for c in itertools.product("ab", repeat=n)]
    ranked = sorted(score_names(model, vocab, names), key=lambda s: -s.logprob)
    best = kbest(sampler, 12, SampleOptions(max_len=6))
    assert [b.name for b in best] == [s.name for s in ranked[:12]]
    np.testing.assert_allclose([b.logprob for b in best], [s.logprob for s in ranked[:12]], rtol=1e-9)


def test_k_best_respects_constraints(sampler):
    best = kbest(sampler, 8, SampleOptions(prefix="m", min_len=3, max_len=6, novel=True, exclude_chars="z"))
    assert len(best) == 8
    for b in best:
        assert b.name.startswith("m") and 3 <= len(b.name) <= 6 and "z" not in b.name and b.novel
    assert len({b.name for b in best}) == 8


def test_budget_exhaustion_is_a_clear_error(sampler):
    with pytest.raises(ConstraintError, match="found only .* tries"):
        draw(sampler, 5, SampleOptions(suffix="qqqq", max_tries=500), seed=1)


def test_bad_options_are_clear_errors(sampler):
    with pytest.raises(VocabError, match="'7'"):
        draw(sampler, 1, SampleOptions(prefix="a7"))
    with pytest.raises(ConfigError):
        draw(sampler, 1, SampleOptions(min_len=5, max_len=3))
    with pytest.raises(ConfigError):
        draw(sampler, 1, SampleOptions(temperature=-1))
    with pytest.raises(ConfigError):
        draw(sampler, 1, SampleOptions(top_p=0))
    with pytest.raises(ConfigError, match="regular expression"):
        draw(sampler, 1, SampleOptions(pattern="("))
    with pytest.raises(ConfigError, match="prefix"):
        draw(sampler, 1, SampleOptions(prefix="abc", max_len=2))
    with pytest.raises(ConfigError, match="excluded"):
        draw(sampler, 1, SampleOptions(prefix="ab", exclude_chars="b"))
    no_names = Sampler(sampler.model, sampler.vocab)
    with pytest.raises(ConfigError, match="no record"):
        draw(no_names, 1, SampleOptions(novel=True))


def test_prefix_is_normalised_to_the_models_case(sampler):
    s = draw(sampler, 3, SampleOptions(prefix="Ma"), seed=1).names
    assert all(x.name.startswith("ma") for x in s)


def test_exclude_names(sampler):
    base = Sampler(sampler.model, sampler.vocab, exclude={"a", "e"})
    names = [s.name for s in draw(base, 200, SampleOptions(novel=True, max_len=1), seed=0).names]
    assert not {"a", "e"} & set(names)


def test_every_model_type_samples(tiny_vocab):
    for _kind, cls in MODELS.items():
        if not cls.trainable:
            continue
        m = cls.create({"vocab_size": tiny_vocab.size, "hidden": 8}, np.random.default_rng(0))
        out = draw(Sampler(m, tiny_vocab), 50, SampleOptions(max_len=8), seed=0).names
        assert len(out) == 50 and all(len(s.name) <= 8 for s in out)
