"""Further factors (issue 27 item 2): a conditional network that learns a style and, beside it, a kind and a
sex (any subset asked at once), trained from a headed labelled corpus."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import namesmith
from test_gradcheck import numeric_grad, rel_error
from namesmith.batch import make_batch
from namesmith.errors import ConfigError
from namesmith.models import MODELS
from namesmith.models.conditional import collapsed
from namesmith.vocab import Vocab

FACTORED = {
    **{k: {"hidden": 4, "embed": 3, "styles": 2, "factors": [2, 3]} for k in ("rnn", "gru", "lstm")},
    "transformer": {"embed": 4, "heads": 2, "hidden": 3, "block": 4, "styles": 2, "factors": [2, 3]},
    "mlp": {"embed": 2, "hidden": 3, "block": 2, "styles": 2, "factors": [2, 3]},
}
NAMES = ["anna", "bob", "", "emma", "e"]


def _model(kind, vocab, seed=0):
    rng = np.random.default_rng(seed)
    m = MODELS[kind].create({"vocab_size": vocab.size, "dtype": "float64", **FACTORED[kind]}, rng)
    # every parameter away from its initial value, so a wrong row or a missing gradient shows
    return type(m)(m.config, {k: v + rng.normal(0, 0.3, v.shape) for k, v in m.params.items()})


def _batch(vocab):
    batch = make_batch([vocab.encode(n) for n in NAMES], dtype=np.float64)
    # styles (2 = any), kind values (2 = any) and sex values (3 = any): every row a different combination
    return replace(batch, styles=np.array([0, 1, 2, 0, 1], dtype=np.int32),
                   factors=np.array([[0, 1], [1, 3], [2, 0], [0, 2], [1, 1]], dtype=np.int32))


@pytest.fixture
def vocab():
    return Vocab.from_names(NAMES)


@pytest.mark.parametrize("kind", sorted(FACTORED))
def test_gradient_check_with_styles_and_factors(kind, vocab):
    """Every row's style and factor rows receive their gradient (a factor row summed once too few or too many
    times, or the pooled row used for a value, fails here)."""
    model, batch = _model(kind, vocab), _batch(vocab)
    grads = model.backward(model.forward(batch)[1])
    assert model.params["Sg"].shape[0] == 2 + 1 + 3 + 4
    for name in ("Sg", "Sy"):
        num = numeric_grad(lambda: model.forward(batch)[0], model.params[name])
        assert rel_error(num, grads[name]) < 1e-6, name
        assert np.abs(grads[name][3:5]).sum() > 0  # the kind values' rows learn


@pytest.mark.parametrize("kind", sorted(FACTORED))
def test_a_fixed_combination_steps_as_it_forwards_and_changes_the_distribution(kind, vocab):
    model, batch = _model(kind, vocab, seed=3), _batch(vocab)
    plain = make_batch([vocab.encode(n) for n in NAMES], dtype=np.float64)
    outs = {}
    for combo in [(0, (1, 2)), (1, (None, 0)), (None, (0, None)), (0, None)]:
        view = model.with_style(combo[0], combo[1])
        _, cache = view.forward(plain)
        state = view.initial_state(plain.size)
        for t in range(plain.X.shape[1]):
            logits, state = view.step(plain.X[:, t], state)
            np.testing.assert_allclose(logits, cache["logits"][:, t], rtol=1e-10, atol=1e-12)
        outs[combo] = cache["logits"]
    assert not np.allclose(outs[(0, (1, 2))], outs[(0, None)])  # a kind and a sex change the letters
    # no factor asked is the factors' "any" rows: the same as naming them
    np.testing.assert_allclose(model.with_style(0, (2, 3)).forward(plain)[1]["logits"], outs[(0, None)])
    # the batch's own rows give each row its combination (forward with factors = the views one by one)
    full = model.forward(batch)[1]["logits"]
    for i, (s, f) in enumerate(zip(batch.styles, batch.factors)):
        row = model.with_style(None if s == 2 else int(s), tuple(int(v) for v in f)).forward(plain)[1]["logits"]
        np.testing.assert_allclose(full[i], row[i], rtol=1e-10, atol=1e-12)
    with pytest.raises(ConfigError, match="factor value ids"):
        model.with_style(0, (5, 0))


@pytest.mark.parametrize("kind", sorted(FACTORED))
def test_collapsed_equals_every_style_with_no_factor_asked(kind, vocab):
    model = _model(kind, vocab, seed=4)
    flat = collapsed(model)
    assert "factors" not in flat.config and flat.params["Sg"].shape[0] == 3
    plain = make_batch([vocab.encode(n) for n in NAMES], dtype=np.float64)
    for s in (0, 1, None):
        np.testing.assert_allclose(flat.with_style(s).forward(plain)[1]["logits"],
                                   model.with_style(s).forward(plain)[1]["logits"], rtol=1e-12, atol=1e-12)


def test_growing_a_factored_network_keeps_its_factor_rows(vocab):
    model = _model("gru", vocab, seed=5)
    grown = model.expanded(vocab.size + 2, 3, np.random.default_rng(0))
    for name in ("Sg", "Sy"):
        old, new = model.params[name], grown.params[name]
        assert new.shape[0] == old.shape[0] + 1
        np.testing.assert_array_equal(new[:2, :old.shape[1]], old[:2])  # the styles
        np.testing.assert_array_equal(new[2, :old.shape[1]], old[2])  # the new style starts as the pooled row
        np.testing.assert_array_equal(new[4:, :old.shape[1]], old[3:])  # kind and sex rows, as they were
    assert grown.factors == [2, 3]


def test_factor_dropout_is_drawn_per_factor(vocab):
    model = MODELS["gru"].create({"vocab_size": vocab.size, "hidden": 3, "styles": 2, "factors": [2, 3],
                                  "style_dropout": 0.5}, np.random.default_rng(0))
    batch = replace(make_batch([vocab.encode("anna")] * 4000), styles=np.zeros(4000, np.int32),
                    factors=np.zeros((4000, 2), np.int32))
    rows = model._batch_styles(batch, True, np.random.default_rng(1))
    pooled = rows == np.array([2, 5, 9])  # the style's, the kind's and the sex's "any" rows
    assert np.allclose(pooled.mean(axis=0), 0.5, atol=0.03)
    assert abs((pooled[:, 1] & pooled[:, 2]).mean() - 0.25) < 0.03  # independent draws: every subset is trained


def _two_factor_corpus(path):
    """Two styles x two kinds with disjoint letters: A-given a/b, A-surname c/d, B-given e/f, B-surname g/h."""
    rng = np.random.default_rng(0)
    letters = {("A", "given"): "ab", ("A", "surname"): "cd", ("B", "given"): "ef", ("B", "surname"): "gh"}
    lines = ["name\tstyle\tkind\tsex"]
    for (style, kind), abc in letters.items():
        for _ in range(60):
            name = "".join(rng.choice(list(abc), size=int(rng.integers(3, 6))))
            sex = "" if kind == "surname" else str(rng.choice(["female", "male"]))
            lines.append(f"{name}\t{style}\t{kind}\t{sex}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return letters


@pytest.fixture(scope="module")
def two_factor_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("factors") / "two.tsv"
    letters = _two_factor_corpus(path)
    ck = namesmith.fit(str(path), model="gru", hidden=24, embed=8, steps=1000, batch_size=32, lr=0.01,
                       dropout=0.0, style_dropout=0.2, seed=3, eval_every=1000, samples=0, mix_ngram=0)
    return ck, letters


def test_every_combination_samples_only_its_letters(two_factor_model):
    """Trained on a headed corpus, the network learns style and kind as separate factors; asking for both
    gives only that combination's letters (each factor alone is not enough: A's letters are a-d)."""
    ck, letters = two_factor_model
    assert ck.factors == {"kind": ["given", "surname"], "sex": ["female", "male"]}
    assert ck.model.factors == [2, 2]
    for (style, kind), abc in letters.items():
        names = [s.name for s in ck.sample(100, style=style, kind=kind, seed=1, style_strength=0)]
        share = np.mean([set(n) <= set(abc) for n in names])
        assert share >= 0.95, (style, kind, share, names[:5])
    surnames = [s.name for s in ck.sample(100, kind="surname", seed=2, style_strength=0)]  # pooled over styles
    assert np.mean([set(n) <= set("cdgh") for n in surnames]) >= 0.9
    assert ck.sample(5, kind="SURNAME", seed=2, style_strength=0).names[0].name == surnames[0]  # by case too


def test_factor_errors_are_one_line(two_factor_model):
    ck, _ = two_factor_model
    with pytest.raises(ConfigError, match="unknown kind 'nick'; this model knows: given, surname"):
        ck.sample(3, kind="nick")
    plain = namesmith.load("given-names")
    with pytest.raises(ConfigError, match="this model has no sex factor"):
        plain.sample(3, sex="female")


def test_classify_reports_each_factor(two_factor_model, capsys, tmp_path):
    ck, _ = two_factor_model
    [given, surname] = ck.classify(["abab", "hggh"])
    assert given.style == "A" and next(iter(given.factors["kind"])) == "given"  # most probable first
    assert surname.style == "B" and next(iter(surname.factors["kind"])) == "surname"
    assert abs(sum(given.factors["sex"].values()) - 1) < 1e-9 and set(given.factors) == {"kind", "sex"}
    assert given.factors["kind"]["given"] > 0.9 and surname.factors["kind"]["surname"] > 0.9
    from namesmith.cli import main

    path = ck.save(tmp_path / "two.npz")
    assert main(["classify", str(path), "abab"]) == 0
    assert "| kind: given 100%  surname 0%  | sex: " in capsys.readouterr().out  # each factor, most probable first
    assert main(["sample", str(path), "--style", "B", "--kind", "surname", "-n", "20", "--seed", "1",
                 "--style-strength", "0", "--raw"]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 20 and np.mean([set(n) <= set("gh") for n in out]) >= 0.9


def test_the_web_api_offers_and_takes_the_factors(two_factor_model, tmp_path):
    """/api/models lists a model's factors (the page fills its kind and sex pickers from them), /api/generate
    takes kind and sex as the CLI does, /api/classify reports them."""
    from test_web import request

    from namesmith.web.server import App, Server

    ck, _ = two_factor_model
    srv = Server(App({"two": str(ck.save(tmp_path / "two.npz"))})).start()
    try:
        status, body = request(srv, "GET", "/api/models")
        assert status == 200 and body["models"][0]["factors"] == {"kind": ["given", "surname"],
                                                                   "sex": ["female", "male"]}
        status, body = request(srv, "POST", "/api/generate", {"model": "two", "style": "B", "kind": "surname",
                                                              "n": 20, "seed": 1, "style_strength": 0})
        assert status == 200 and np.mean([set(n["name"]) <= set("gh") for n in body["names"]]) >= 0.9
        status, body = request(srv, "POST", "/api/generate", {"model": "two", "kind": "nick"})
        assert status == 400 and "unknown kind 'nick'" in body["error"]
        status, body = request(srv, "POST", "/api/classify", {"model": "two", "names": ["hggh"]})
        assert status == 200 and next(iter(body["results"][0]["factors"]["kind"])) == "surname"
    finally:
        srv.stop()


def test_full_names_join_a_given_name_and_a_surname_of_one_style(two_factor_model):
    ck, letters = two_factor_model
    got = ck.sample(30, full=True, style="A", seed=4, style_strength=0)
    assert len(got) == 30 and got.seed == 4
    parts = [s.name.split(" ") for s in got]
    assert np.mean([set(g) <= set("ab") and set(f) <= set("cd") for g, f in parts]) >= 0.9  # A's given, A's surname
    assert all(s.display == f"{g.capitalize()} {f.capitalize()}" for s, (g, f) in zip(got, parts))
    again = ck.sample(30, full=True, style="A", seed=4, style_strength=0)
    assert [s.name for s in again] == [s.name for s in got]  # seeded
    with pytest.raises(ConfigError, match="full or kind"):
        ck.sample(3, full=True, kind="given")
    with pytest.raises(ConfigError, match="full names take a seed"):
        ck.sample(3, full=True, key="user-1")
    with pytest.raises(ConfigError, match="full names need a model that learned given names and surnames"):
        namesmith.load("given-names").sample(3, full=True)


def test_world_full_names_agree_in_sex_and_follow_the_culture_s_order():
    from namesmith.cli import main

    ck = namesmith.load("world")
    polish = ck.sample(20, full=True, style="Polish", seed=3)
    assert len(polish) == 20 and all(len(s.name.split(" ")) >= 2 for s in polish)
    russian = ck.sample(30, full=True, style="Russian", sex="female", seed=5)
    assert sum(s.name.split(" ")[-1].endswith("a") for s in russian) >= 24  # Anna Ivanova: the surname agrees
    assert main(["sample", "world", "--style", "Japanese", "--full", "-n", "3", "--seed", "1"]) == 0


def test_family_first_cultures_write_the_surname_first(two_factor_model, monkeypatch):
    from namesmith import fullnames

    ck, _ = two_factor_model
    monkeypatch.setattr(fullnames, "FAMILY_FIRST", frozenset({"B"}))
    parts = [s.name.split(" ") for s in ck.sample(20, full=True, style="b", seed=6, style_strength=0)]  # by case
    assert np.mean([set(a) <= set("gh") and set(b) <= set("ef") for a, b in parts]) >= 0.8, parts
    blend = ck.sample(20, full=True, style="A=0.5,B=0.5", seed=6, style_strength=0)
    assert np.mean([set(s.name.split(" ")[0]) <= set("abef") for s in blend]) >= 0.8  # a blend: given name first
