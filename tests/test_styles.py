"""Styles: labelled corpora, conditional models (gradient-checked), style views, blends, classification."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

import namesmith
from namesmith.batch import balanced_draw, make_batch
from namesmith.cli import main
from namesmith.corpus import Corpus, load_corpus, parse_names
from namesmith.errors import CheckpointError, ConfigError, CorpusError
from namesmith.models import MODELS
from namesmith.styles import parse_styles

from conftest import STYLED_EXAMPLES, build_model
from test_gradcheck import numeric_grad, rel_error

ALPHA, OMEGA = "abcdefgh", "stuvwxyz"


# ----- labelled corpora ----------------------------------------------------------------------------
def test_tsv_and_folder_corpora(tmp_path):
    c = parse_names("Anna\tItalian\nbob\tEnglish\n\nanna\tEnglish\n", "t.tsv")
    assert c.names == ("anna", "bob", "anna") and c.labels == ("Italian", "English", "English")
    assert c.styles == ["English", "Italian"] and c.style_counts() == {"English": 2, "Italian": 1}
    folder = tmp_path / "styles"
    folder.mkdir()
    (folder / "Norse.txt").write_text("Ragnar\nSigrid\n", encoding="utf-8")
    (folder / "Elvish.txt").write_text("Elrond\n", encoding="utf-8")
    (folder / "notes.md").write_text("ignored\n", encoding="utf-8")
    f = load_corpus(folder)
    assert f.names == ("elrond", "ragnar", "sigrid") and f.labels == ("Elvish", "Norse", "Norse")
    assert parse_names("anna\nbob\n").labels is None  # plain files stay unlabelled


@pytest.mark.parametrize("text,message", [
    ("anna\tIt\nbob\n", r"t.tsv:2: expected name<TAB>style \(one tab\), found 0"),
    ("anna\tIt\nb\tx\ty\n", r"t.tsv:2: .*found 2 tabs"),
    ("anna\tIt\n\tIt\n", r"t.tsv:2: the name before the tab is empty"),
    ("anna\tIt\nbob\t \n", r"t.tsv:2: the style after the tab is empty"),
    ("anna\tIt\nbob\tA=B\n", r"t.tsv:2: style 'A=B' must be"),
    ("anna\tIt\nbo\x01b\tIt\n", r"t.tsv:2: control character"),
])
def test_labelled_file_errors_name_file_and_line(text, message):
    with pytest.raises(CorpusError, match=message):
        parse_names(text, "t.tsv")


def test_folder_errors(tmp_path):
    with pytest.raises(CorpusError, match="no STYLE.txt files"):
        load_corpus(tmp_path)
    (tmp_path / "A.txt").write_text("x\ty\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="one plain name per line"):
        load_corpus(tmp_path)


def test_split_is_stratified_by_style():
    c = Corpus(tuple(f"n{i}" for i in range(200)), "x", tuple("A" if i < 180 else "B" for i in range(200)))
    train, val = c.split(0.1, 0)
    assert val.style_counts() == {"A": 18, "B": 2} and train.style_counts() == {"A": 162, "B": 18}
    assert sorted(train.names + val.names) == sorted(c.names)
    train, val = Corpus(("a", "b", "c"), "x", ("A", "B", "B")).split(0.5, 0)
    assert set(train.labels) == {"A", "B"} and val.labels == ("B",)  # a one-name style keeps it for training


def test_split_keeps_a_name_on_one_side():
    """A name listed under several styles goes to validation with all its lines or stays in training with
    all of them: a validation name is never one the model saw under another style (memorising it would be
    rewarded in the NLL and punished in classification)."""
    names = tuple(f"n{i}" for i in range(300))
    lines = [(n, "A") for n in names] + [(n, "B") for n in names[::2]] + [(n, "C") for n in names[::3]]
    c = Corpus(tuple(n for n, _ in lines), "x", tuple(s for _, s in lines))
    for seed in range(5):
        train, val = c.split(0.1, seed)
        assert not set(train.names) & set(val.names)
        assert sorted(zip(train.names + val.names, train.labels + val.labels)) == sorted(lines)
        counts, share = val.style_counts(), c.style_counts()
        assert all(abs(counts[k] - 0.1 * share[k]) <= 0.1 * share[k] * 0.25 + 2 for k in share), counts


@pytest.mark.parametrize("power, want", [(1.0, [0.9, 0.1]), (0.5, [0.75, 0.25]), (0.0, [0.5, 0.5])])
def test_balanced_draw_tempers_the_style_shares(power, want):
    styles = np.array([0] * 900 + [1] * 100)
    drawn = balanced_draw(styles, power, np.random.default_rng(0))
    assert drawn.shape == (1000,) and drawn.min() >= 0 and drawn.max() < 1000
    many = np.repeat(styles, 20)  # (20000,)
    share = np.bincount(many[balanced_draw(many, power, np.random.default_rng(1))], minlength=2) / many.size
    np.testing.assert_allclose(share, want, atol=0.015)
    within = np.bincount(drawn[styles[drawn] == 1] - 900, minlength=100)  # every name of a style equally likely
    assert within.size == 100 and within.sum() == (styles[drawn] == 1).sum()


def test_style_balance_trains_small_styles_more_often(tmp_path):
    from namesmith.config import resolve
    from namesmith.train import Plan, load_data

    f = tmp_path / "s.tsv"
    f.write_text("".join(f"a{i}\tBig\n" for i in range(180)) + "".join(f"b{i}\tSmall\n" for i in range(20)),
                 encoding="utf-8")

    def small_share(balance):
        data = load_data(resolve({"corpus": str(f), "style_balance": balance, "val_fraction": 0.0}))
        plan = Plan(resolve({"corpus": str(f), "style_balance": balance}), data, np.float32)
        seen = np.concatenate([plan.batch(step).styles for step in range(60)])
        again = np.concatenate([plan.batch(step).styles for step in range(60)])  # the same seed: the same batches
        assert np.array_equal(seen, again)
        return np.mean(seen == data.styles.index("Small"))

    assert abs(small_share(1.0) - 0.1) < 0.01  # the corpus as given: every name once per epoch
    assert abs(small_share(0.0) - 0.5) < 0.06
    with pytest.raises(ConfigError, match="style_balance"):
        resolve({"style_balance": 1.5})


# ----- the conditional recurrent models -------------------------------------------------------------
STYLED = [pytest.param(kind, cfg, id=f"{kind}-{name}") for kind, cls in MODELS.items() if cls.trainable
          for name, cfg in STYLED_EXAMPLES[kind]]


def _styled_batch(tiny_vocab, styles):
    names = ["anna", "bob", "", "emma", "e"]
    return replace(make_batch([tiny_vocab.encode(n) for n in names], dtype=np.float64, norm="tokens"),
                   styles=np.array(styles, dtype=np.int32))


@pytest.mark.parametrize("kind,cfg", STYLED)
def test_gradient_check_with_styles(kind, cfg, tiny_vocab):
    """Sg and Sy get exact gradients; rows of several styles (and the pooled id S) in one batch."""
    S = cfg["styles"]
    batch = _styled_batch(tiny_vocab, [0, S, 1, 0, S])
    model = build_model(kind, cfg, tiny_vocab)
    _, cache = model.forward(batch)
    grads = model.backward(cache)
    assert set(grads) == set(model.params) and {"Sg", "Sy"} <= set(grads)
    for name, p in model.params.items():
        err = rel_error(numeric_grad(lambda: model.forward(batch)[0], p), grads[name])
        assert err < 1e-6, f"{kind} {name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind,cfg", STYLED)
def test_style_view_steps_equal_forward_and_styles_differ(kind, cfg, tiny_vocab):
    model = build_model(kind, cfg, tiny_vocab, seed=5)
    batch = _styled_batch(tiny_vocab, [1] * 5)
    view = model.with_style(1)
    _, cache = model.forward(batch)
    np.testing.assert_array_equal(view.forward(replace(batch, styles=None))[1]["logits"], cache["logits"])
    state = view.initial_state(batch.size)
    for t in range(batch.X.shape[1]):
        logits, state = view.step(batch.X[:, t], state)
        np.testing.assert_allclose(logits, cache["logits"][:, t], rtol=1e-10, atol=1e-12)
    pooled = model.forward(replace(batch, styles=None))[1]["logits"]
    assert not np.allclose(pooled, cache["logits"])  # the style changes the distribution
    np.testing.assert_array_equal(model.with_style(None).forward(batch)[1]["logits"], pooled)


def test_style_dropout_uses_the_training_generator(tiny_vocab):
    model = build_model("rnn", {"hidden": 4, "styles": 2, "style_dropout": 0.5}, tiny_vocab)
    batch = _styled_batch(tiny_vocab, [0, 1, 0, 1, 0])
    a = model.forward(batch, train=True, rng=np.random.default_rng(3))[0]
    assert a == model.forward(batch, train=True, rng=np.random.default_rng(3))[0]
    seen = {model.forward(batch, train=True, rng=np.random.default_rng(s))[0] for s in range(8)}
    assert len(seen) > 1  # some rows were trained as "any style"


# ----- blends ----------------------------------------------------------------------------------------
def test_parse_styles():
    styles = ["Italian", "Japanese", "Norse"]
    assert parse_styles(None, styles) is None
    assert parse_styles("japanese", styles) == [(1, 1.0)]
    assert parse_styles("Italian=3,Japanese=1", styles) == [(0, 0.75), (1, 0.25)]
    assert parse_styles({"Norse": 0.2, "Italian": 0.2}, styles) == [(2, 0.5), (0, 0.5)]
    for bad, msg in [("Klingon", "unknown style 'Klingon'; this model knows: Italian, Japanese, Norse"),
                     ("Italian,Japanese", "every style a weight"), ("Italian=-1,Norse=1", "≥ 0"),
                     ("Italian=x,Norse=1", "≥ 0"), ("Italian=0,Norse=0", "above 0"),
                     ("Italian=1,italian=1", "twice"), (3, "not int")]:
        with pytest.raises(ConfigError, match=msg):
            parse_styles(bad, styles)
    with pytest.raises(ConfigError, match="no styles"):
        parse_styles("Italian", [])


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    """A GRU trained on two styles with disjoint alphabets (a-h and s-z)."""
    d = tmp_path_factory.mktemp("styles")
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(1500):
        for style, letters in (("Alpha", ALPHA), ("Omega", OMEGA)):
            lines.append("".join(rng.choice(list(letters), rng.integers(3, 7))) + "\t" + style)
    (d / "two.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = []
    ck = namesmith.fit(d / "two.tsv", d / "two.npz", model="gru", hidden=16, embed=8, steps=500, eval_every=100,
                       patience=0, lr=0.03, dropout=0.0, mix_ngram=0, samples=0, log=log.append)
    return d, ck, log


def _pure(names, letters):
    return sum(set(n) <= set(letters) for n in names) / len(names)


def test_each_style_samples_its_own_alphabet(two_styles):
    d, ck, log = two_styles
    assert ck.styles == ["Alpha", "Omega"] and ck.style_counts == {"Alpha": 1350, "Omega": 1350}
    assert any(line.startswith("styles (2, training names each): Alpha 1,350, Omega 1,350") for line in log)
    alpha = [s.name for s in ck.sample(500, seed=1, style="Alpha")]
    omega = [s.name for s in ck.sample(500, seed=1, style="Omega")]
    # maximum likelihood leaves ~0.1% per character on the other alphabet; at temperature 1 nearly every name is pure
    assert _pure(alpha, ALPHA) >= 0.97 and _pure(omega, OMEGA) >= 0.97
    cold = [s.name for s in ck.sample(300, seed=2, style="Alpha", temperature=0.5)]
    assert _pure(cold, ALPHA) == 1.0
    pooled = [s.name for s in ck.sample(500, seed=1)]
    assert 0.3 < _pure(pooled, ALPHA) < 0.7  # no style: the pooled model, both styles


def test_blends(two_styles):
    d, ck, _ = two_styles
    half = [s.name for s in ck.sample(500, seed=3, style="Alpha=0.5,Omega=0.5")]
    assert set("".join(half)) <= set(ALPHA + OMEGA)
    assert _pure(half, ALPHA) > 0.05 and _pure(half, OMEGA) > 0.05  # names of both styles
    assert set("".join(half)) & set(ALPHA) and set("".join(half)) & set(OMEGA)
    pure = [(s.name, s.logprob) for s in ck.sample(200, seed=4, style="Alpha")]
    assert [(s.name, s.logprob) for s in ck.sample(200, seed=4, style="Alpha=1,Omega=0")] == pure  # exactly
    shares = [_pure([s.name for s in ck.sample(300, seed=5, style=f"Alpha={w},Omega={1 - w}")], ALPHA)
              for w in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert shares == sorted(shares) and shares[0] < 0.05 and shares[-1] > 0.95
    best = ck.best(5, style="Omega", max_len=4)
    assert all(set(b.name) <= set(OMEGA) for b in best)


def test_classify_and_per_style_eval(two_styles, capsys):
    d, ck, _ = two_styles
    res = ck.classify(["abba", "zzyx", "Héllo", "ace"], top=1)
    assert [r.style for r in res] == ["Alpha", "Omega", None, "Alpha"]
    assert res[0].probability > 0.99 and list(res[0].to_dict()) == ["name", "style", "probability", "styles",
                                                                    "unknown_chars", "display", "offensive", "factors"]
    assert res[0].offensive is None
    assert res[2].unknown_chars == ["é", "l", "o"] and len(res[1].styles) == 1
    uniform = ck.classify(["abba"], uniform_prior=True)[0].styles
    assert set(uniform) == {"Alpha", "Omega"} and sum(uniform.values()) == pytest.approx(1.0)
    report = ck.evaluate(d / "two.tsv")
    assert report.accuracy > 0.99 and report.macro_accuracy > 0.99
    assert set(report.per_style) == {"Alpha", "Omega"} and report.per_style["Alpha"].names == 1500
    # each style's standard error comes from its own names, each scored under that style
    from namesmith.score import nll_standard_error

    labelled = load_corpus(d / "two.tsv")
    for style in ("Alpha", "Omega"):
        mine = [n for n, s in zip(labelled.names, labelled.labels) if s == style]
        scores = ck.score(mine, style=style)
        own = nll_standard_error(np.array([-x.logprob for x in scores]), np.array([len(n) + 1.0 for n in mine]))
        assert report.per_style[style].nll_se == pytest.approx(own, rel=1e-6)
    # knowing the style is worth about ln 2 nats per name (~0.13 nats/char at 5.5 symbols per name)
    assert report.nll < ck.evaluate(load_corpus(d / "two.tsv").names).nll - 0.1
    # the CLI: classify as JSON in input order, eval --json with the per-style keys
    assert main(["classify", str(d / "two.npz"), "zzz", "aaa", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in out] == ["zzz", "aaa"] and [r["style"] for r in out] == ["Omega", "Alpha"]
    assert main(["eval", str(d / "two.npz"), str(d / "two.tsv"), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert {"nll", "accuracy", "macro_accuracy", "per_style"} <= set(ev)
    png = d / "confusion.png"
    assert main(["eval", str(d / "two.npz"), str(d / "two.tsv"), "--confusion", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "accuracy 100" in capsys.readouterr().out
    assert main(["eval", str(d / "two.npz"), str(d / "two.tsv"), "--confusion", str(d / "two.tsv")]) == 2
    assert "destroy an input" in capsys.readouterr().err and (d / "two.tsv").read_text().startswith(tuple(ALPHA))
    assert main(["sample", str(d / "two.npz"), "-n", "5", "--style", "omega", "--seed", "1", "--raw", "--temperature",
                 "0.5"]) == 0
    assert all(set(n) <= set(OMEGA) for n in capsys.readouterr().out.split())
    assert main(["sample", str(d / "two.npz"), "--style", "Klingon"]) == 2
    assert "unknown style 'Klingon'" in capsys.readouterr().err


def test_checkpoint_refuses_styles_that_do_not_match(two_styles, tmp_path):
    from namesmith.checkpoint import read_arrays
    from test_ngram import write_arrays

    d, ck, _ = two_styles
    arrays = read_arrays(d / "two.npz")
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    meta["styles"]["names"], meta["styles"]["counts"] = ["Alpha"], meta["styles"]["counts"][:1]
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    write_arrays(tmp_path / "bad.npz", arrays)
    with pytest.raises(CheckpointError, match="2 styles but the file names 1"):
        namesmith.load(tmp_path / "bad.npz")


# ----- the styled n-gram --------------------------------------------------------------------------
def test_styled_ngram_interpolates_each_style_with_the_pooled_model(tiny_vocab):
    from conftest import _styled_ngram

    model = _styled_ngram(tiny_vocab, None)
    assert model.styles == 2 and all(0 < w < 1 for w in model.config["weights"])
    batch = make_batch([tiny_vocab.encode(n) for n in ["anna", "bob", "eve"]])
    pooled = np.exp(model.pooled.forward(batch)[1]["logits"].astype(np.float64))
    for s in (0, 1):
        lam = model.config["weights"][s]
        own = np.exp(model.parts[s].forward(batch)[1]["logits"].astype(np.float64))
        view = np.exp(model.with_style(s).forward(batch)[1]["logits"])
        np.testing.assert_allclose(view, lam * own + (1 - lam) * pooled, rtol=1e-6)
        # nll() of a batch carrying styles = each row under its own style
        styled = replace(batch, styles=np.full(3, s, dtype=np.int32))
        np.testing.assert_allclose(model.nll(styled), model.with_style(s).nll(batch), rtol=1e-9)
    assert model.with_style(None) is model.pooled


def test_styled_ngram_and_mixture_train_and_classify(two_styles):
    d, _, _ = two_styles
    ng = namesmith.fit(d / "two.tsv", d / "ng.npz", model="ngram", order=4, samples=0, log=lambda s: None)
    loaded = namesmith.load(d / "ng.npz")
    assert loaded.styles == ["Alpha", "Omega"] and loaded.model.kind == "ngram-styled"
    assert loaded.evaluate(d / "two.tsv").accuracy > 0.99
    cold = [s.name for s in loaded.sample(200, seed=1, style="Omega", temperature=0.5)]
    assert _pure(cold, OMEGA) == 1.0
    assert [s.name for s in ng.sample(20, seed=2, style="Alpha")] == [s.name for s in loaded.sample(
        20, seed=2, style="Alpha")]
    mx = namesmith.fit(d / "two.tsv", d / "mx.npz", model="gru", hidden=8, steps=60, eval_every=30, lr=0.03,
                       mix_ngram=3, samples=0, log=lambda s: None)
    assert mx.model.kind == "mixture" and mx.model.parts[1].kind == "ngram-styled"
    assert len(mx.model.config["style_weights"]) == 2  # one weight vector per style, fitted on its names
    assert namesmith.load(d / "mx.npz").classify(["abba"])[0].style == "Alpha"


@pytest.mark.parametrize("kind, cfg", [("gru", {"hidden": 3, "styles": 3}),
                                      ("transformer", {"embed": 4, "heads": 2, "hidden": 5, "block": 4, "styles": 3}),
                                      ("mlp", {"embed": 2, "hidden": 3, "block": 3, "styles": 3})])
def test_pooled_from_sets_the_any_style_rows(kind, cfg, tiny_vocab):
    model = build_model(kind, cfg, tiny_vocab, seed=2)
    w = np.array([0.5, 0.0, 0.5])
    new = model.pooled_from(w)
    for name, old in model.params.items():
        if name in ("Sg", "Sy"):
            np.testing.assert_allclose(new.params[name][3], 0.5 * (old[0] + old[2]), rtol=1e-6)
            np.testing.assert_array_equal(new.params[name][:3], old[:3])
        else:
            np.testing.assert_array_equal(new.params[name], old)
    with pytest.raises(ConfigError, match="pooled_from"):
        model.pooled_from([0.5, 0.5])


def test_mixture_weights_per_style(tiny_vocab, tmp_path):
    """A style on whose names one part is better gets a larger weight for it; rows carrying styles and
    with_style views agree; the weights survive a checkpoint; malformed ones are refused."""
    from conftest import _styled_ngram
    from namesmith.checkpoint import load_checkpoint, save_checkpoint
    from namesmith.models.mixture import Mixture, component_logprobs, fit_style_weights, fit_weights

    ngram = _styled_ngram(tiny_vocab, None)  # 2 styles
    net = build_model("gru", {"hidden": 4, "styles": 2}, tiny_vocab, seed=3)
    names = ["anna", "bob", "eve", "ada", "emma", "bea", "abba", "ben"]
    held = tiny_vocab.encode_many(names).with_styles(np.array([0, 1] * 4))
    pooled = fit_weights([net, ngram], held)
    per = fit_style_weights([net, ngram], held, 2, pooled)
    for st in (0, 1):  # each style's weights maximise the MAP objective on its own names
        own = held.take(np.flatnonzero(held.styles == st))
        lp = component_logprobs([net.with_style(st), ngram.with_style(st)], own)

        def objective(w):
            return np.log(np.exp(lp).T @ w).sum() + 100.0 * np.dot(pooled, np.log(w))
        w = np.array(per[st])
        assert objective(w) >= max(objective(np.array(x)) for x in ([0.5, 0.5], pooled, [0.9, 0.1], [0.1, 0.9])) - 1e-6
    assert fit_style_weights([net, ngram], held, 3, pooled)[2] == pooled  # no validation names: the pooled ones
    assert fit_style_weights([net, ngram], held, 2, pooled, prior=1e9)[0] == pytest.approx(pooled, abs=1e-6)
    per = [[0.9, 0.1], [0.2, 0.8]]  # far apart, so a row using the wrong style's weights would show
    mix = Mixture.of([net, ngram], pooled, per)
    batch = make_batch([tiny_vocab.encode(n) for n in ["anna", "bob", "eve"]])
    rows = []
    for st in (0, 1):
        view = mix.with_style(st)
        np.testing.assert_allclose(np.exp(view._logw), per[st])
        styled = replace(batch, styles=np.full(3, st, dtype=np.int32))
        np.testing.assert_allclose(mix.nll(styled), view.nll(batch), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mix.forward(styled)[1]["logits"], view.forward(batch)[1]["logits"], rtol=1e-9)
        rows.append(view.nll(batch)[st])
    mixed = replace(batch, styles=np.array([0, 1, 2], dtype=np.int32))  # 2 = any style: the pooled weights
    np.testing.assert_allclose(mix.nll(mixed)[:2], np.stack(rows), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mix.nll(mixed)[2], mix.with_style(None).nll(batch)[2], rtol=1e-9, atol=1e-12)
    assert not np.allclose(mix.nll(replace(batch, styles=np.array([1, 0, 2], dtype=np.int32))), mix.nll(mixed))
    save_checkpoint(tmp_path / "m.npz", mix, tiny_vocab, {"styles": {"names": ["A", "B"], "counts": [4, 4]}})
    again = load_checkpoint(tmp_path / "m.npz").model
    assert again.config["style_weights"] == per
    np.testing.assert_allclose(again.nll(mixed), mix.nll(mixed), rtol=1e-12)
    for bad in ([[0.9, 0.1]], [[0.9, 0.2], [0.5, 0.5]], [[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5, 0.0], [0.5, 0.5]]):
        with pytest.raises(ConfigError, match="style weights"):
            Mixture.of([net, ngram], pooled, bad)


def test_web_api_styles_blends_and_classify(two_styles):
    from namesmith.web.app import App
    from namesmith.web.server import Server
    from test_web import request

    d, ck, _ = two_styles
    srv = Server(App({"two": ck})).start()

    class Client:  # the served HTTP API through test_web's request helper
        def get(self, path):
            return Reply(*request(srv, "GET", path))

        def post(self, path, body):
            return Reply(*request(srv, "POST", path, body))

    class Reply:
        def __init__(self, status, body):
            self.status_code, self.body = status, body

        def json(self):
            return self.body

    client = Client()
    info = client.get("/api/models").json()["models"][0]
    assert info["styles"] == [{"name": "Alpha", "names": 1350}, {"name": "Omega", "names": 1350}]
    out = client.post("/api/generate", {"n": 30, "style": "Omega", "temperature": 0.5, "seed": 1}).json()
    assert all(set(x["name"]) <= set(OMEGA) for x in out["names"])
    blend = client.post("/api/generate", {"n": 30, "style": {"Alpha": 0.5, "Omega": 0.5}, "seed": 1}).json()
    assert set("".join(x["name"] for x in blend["names"])) <= set(ALPHA + OMEGA)
    res = client.post("/api/classify", {"names": ["abba", "zyx"], "top": 1}).json()["results"]
    assert [r["style"] for r in res] == ["Alpha", "Omega"] and all(len(r["styles"]) == 1 for r in res)

    def score(style):
        return client.post("/api/score", {"name": "abba", "style": style}).json()["scores"][0]["logprob"]

    assert score("Alpha") > score("Omega")
    for path, body, fragment in [("/api/generate", {"style": 3}, "'style' must be"),
                                 ("/api/generate", {"style": {"Alpha": "x"}}, "'style' must be"),
                                 ("/api/classify", {"names": ["a"], "top": 0}, "'top' must be between 1 and 10000"),
                                 ("/api/classify", {"name": "a", "bogus": 1}, "unknown parameter 'bogus'"),
                                 ("/api/generate", {"style": "Klingon"}, "unknown style 'Klingon'")]:
        r = client.post(path, body)
        assert r.status_code == 400 and fragment in r.json()["error"], (body, r.json())
    srv.stop()


# ----- fine-tuning ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,cfg", [("rnn", {"hidden": 5}), ("gru", {"hidden": 4, "embed": 3, "styles": 2}),
                                      ("lstm", {"hidden": 3, "embed": 2, "layers": 2, "learn_h0": True}),
                                      ("transformer", {"embed": 4, "heads": 2, "hidden": 5, "block": 4, "styles": 2}),
                                      ("mlp", {"embed": 2, "hidden": 3, "block": 3, "styles": 1})])
def test_expanded_keeps_every_weight_and_adds_rows(kind, cfg, tiny_vocab):
    model = build_model(kind, cfg, tiny_vocab, seed=7)
    V0, S0 = model.vocab_size, model.styles
    grown = model.expanded(V0 + 3, S0 + 2, np.random.default_rng(0))
    assert grown.vocab_size == V0 + 3 and grown.styles == S0 + 2
    for name, old in model.params.items():
        new = grown.params[name]
        block = tuple(slice(0, n) for n in old.shape)
        if name in ("Sg", "Sy"):  # old style rows kept; the pooled row moves to the end unchanged
            np.testing.assert_array_equal(new[:S0, : old.shape[1]], old[:S0])
            np.testing.assert_array_equal(new[-1, : old.shape[1]], old[S0])
            np.testing.assert_array_equal(new[S0:-1, : old.shape[1]], np.repeat(old[S0:], 2, axis=0))
        else:
            np.testing.assert_array_equal(new[block], old)  # bit for bit
    assert np.all(grown.params["by"][V0:] == model.params["by"][1:].min())
    assert not grown.params["Wya"][V0:].any()
    # on names of old characters, the old symbols' logits are exactly the old model's
    batch = make_batch([tiny_vocab.encode(n) for n in ["anna", "bob", ""]])
    np.testing.assert_array_equal(grown.forward(batch)[1]["logits"][..., :V0], model.forward(batch)[1]["logits"])
    with pytest.raises(ConfigError, match="only grow"):
        model.expanded(V0 - 1, S0, np.random.default_rng(0))


def test_finetune_adds_characters_and_styles(two_styles, tmp_path):
    d, base, _ = two_styles
    small = tmp_path / "small.tsv"
    small.write_text("".join(f"{a}{b}qé\tKappa\n" for a in "abc" for b in "stu") + "aaq\tAlpha\n", encoding="utf-8")
    log = []
    ck = namesmith.fit(small, tmp_path / "ft.npz", init_from=d / "two.npz", steps=40, samples=0, log=log.append)
    assert ck.vocab.chars[: base.vocab.size] == base.vocab.chars and ck.vocab.chars[base.vocab.size:] == ("q", "é")
    assert ck.styles == ["Alpha", "Omega", "Kappa"]
    assert any("added 2 characters (q é), 1 styles (Kappa)" in line for line in log)
    assert any("the preset's --folds 4 is for unlabelled lists" in line for line in log)  # one network, said so
    net = ck.model.parts[0] if ck.model.kind == "mixture" else ck.model
    assert net.kind == "gru" and net.config["hidden"] == 16  # the base's architecture
    assert ck.style_counts["Alpha"] > 1350 and ck.meta.train.config["preset"] == "finetune"
    kappa = [s.name for s in ck.sample(50, seed=1, style="Kappa", temperature=0.5)]
    assert sum("q" in n for n in kappa) > 25  # the new style learned its new character
    with pytest.raises(ConfigError, match="keeps the base model's architecture"):
        namesmith.fit(small, init_from=d / "two.npz", hidden=32, steps=2, log=lambda s: None)
    # the base's dropout is kept unless the run gives one (it used to be silently ignored)
    kept = namesmith.fit(small, init_from=d / "two.npz", steps=2, mix_ngram=0, samples=0, log=lambda s: None)
    assert kept.model.config["dropout"] == base.model.config["dropout"] == 0.0
    toml = tmp_path / "ft.toml"
    toml.write_text("dropout = 0.4\nstyle_dropout = 0.3\n", encoding="utf-8")
    for given in ({"dropout": 0.4, "style_dropout": 0.3}, {"config": toml}):
        ft = namesmith.fit(small, init_from=d / "two.npz", steps=2, mix_ngram=0, samples=0, log=lambda s: None,
                           **given)
        assert (ft.model.config["dropout"], ft.model.config["style_dropout"]) == (0.4, 0.3)
        assert ft.meta.train.config["dropout"] == 0.4
    # an unlabelled list on a styled base starts as the styles it sounds like (here: all Omega)
    omega = tmp_path / "omega.txt"
    omega.write_text("".join(f"{a}{b}{a}\n" for a in "stuv" for b in "wxyz"), encoding="utf-8")
    log = []
    ft = namesmith.fit(omega, init_from=d / "two.npz", folds=1, steps=0, mix_ngram=0, samples=0, log=log.append)
    assert any(re.match(r"the list sounds most like Omega (9\d|100)%", line) for line in log), log
    for name in ("Sg", "Sy"):
        rows = base.model.params[name]  # (3, ...): Alpha, Omega, any style
        np.testing.assert_allclose(ft.model.params[name][2], rows[1], atol=0.05 * np.abs(rows).max())
        assert not np.allclose(ft.model.params[name][2], rows[2])
    with pytest.raises(ConfigError, match="unlabelled lists"):  # asked for explicitly: an error, not a fallback
        namesmith.fit(small, init_from=d / "two.npz", folds=3, steps=2, log=lambda s: None)
    plain = tmp_path / "plain.txt"  # an unlabelled list, cross-validation bagging: each fold starts from the base
    plain.write_text("".join(f"{a}{b}{a}\n" for a in "abc" for b in "stu"), encoding="utf-8")
    log = []
    bag = namesmith.fit(plain, init_from=d / "two.npz", folds=2, steps=5, samples=0, log=log.append)
    assert sum("the list sounds most like" in line for line in log) == 1  # once, not once per fold
    assert [(p.kind, p.config["hidden"], p.styles) for p in bag.model.parts[:2]] == [("gru", 16, 2)] * 2
    namesmith.fit(d / "two.tsv", d / "ng-base.npz", model="ngram", order=2, samples=0, log=lambda s: None)
    with pytest.raises(ConfigError, match="needs a neural network"):
        namesmith.fit(small, init_from=d / "ng-base.npz", log=lambda s: None)


def test_labelled_list_on_the_finetune_preset_is_read_once(two_styles, tmp_path, monkeypatch):
    import namesmith.api as api

    d, _, _ = two_styles
    small = tmp_path / "small.tsv"
    small.write_text("".join(f"{a}{b}q\tKappa\n" for a in "abc" for b in "stu"), encoding="utf-8")
    reads = []
    real = api.load_corpus
    monkeypatch.setattr(api, "load_corpus", lambda *a, **k: reads.append(a) or real(*a, **k))
    log = []
    ck = namesmith.fit(small, init_from=d / "two.npz", steps=2, samples=0, log=log.append)
    assert any("the preset's --folds 4 is for unlabelled lists" in line for line in log)
    assert len(reads) == 1 and ck.meta.train.config["folds"] == 1
    assert ck.meta.corpus.val_names == 2 and ck.meta.corpus.names == 7  # 20% held out, as --folds 1


def test_finetuned_mixture_takes_the_base_ngram_of_the_style_the_list_sounds_like(two_styles, tmp_path,
                                                                                   monkeypatch):
    from namesmith.config import resolve
    from namesmith.models.layers import logsumexp
    from namesmith.models.mixture import component_logprobs
    from namesmith.models.ngram import NGram
    from namesmith.train import fold_data, heldout_nll, load_data

    d, _, _ = two_styles
    quiet = {"samples": 0, "log": lambda s: None}
    base = namesmith.fit(d / "two.tsv", tmp_path / "base.npz", model="gru", hidden=8, embed=4, steps=30,
                         mix_ngram=3, **quiet)
    styled = base.model.parts[1]
    assert styled.kind == "ngram-styled"
    omega = tmp_path / "omega.txt"  # unlabelled, every name in Omega's letters
    omega.write_text("".join(f"{a}{b}{a}{c}\n" for a in "stuv" for b in "wxyz" for c in "tz"), encoding="utf-8")
    log = []
    opts = {"init_from": tmp_path / "base.npz", "folds": 2, "steps": 5, "mix_ngram": 2, "samples": 0}
    bag = namesmith.fit(omega, log=log.append, **opts)
    parts, w = bag.model.parts, np.array(bag.model.config["weights"])
    assert [p.kind for p in parts] == ["gru", "gru", "ngram", "ngram"]
    mine = styled.parts[1]  # Omega's own counts, not the pooled ones (nor Alpha's)
    assert all(np.array_equal(parts[3].params[k], mine.params[k]) for k in mine.params)
    assert any("and the base's n-gram of Omega (" in line for line in log), log
    # the three weights are the EM optimum on the out-of-fold predictions, and the reported NLL is theirs
    data = load_data(resolve({"corpus": str(omega), "val_fraction": 0.0}), (base.vocab, base.styles))
    cfg = {"vocab_size": data.vocab.size, "order": 2}
    lp = np.concatenate([component_logprobs([net, NGram.fit(cfg, s.encoded), mine], s.val_encoded)
                         for net, s in zip(parts[:2], fold_data(data, 2, 1337))], axis=1)  # (3, N)
    pooled = np.array([w[0] + w[1], w[2], w[3]])

    def oof(v):
        return float(logsumexp(lp + np.log(v / v.sum())[:, None], axis=0).mean())
    assert -oof(pooled) == pytest.approx(bag.meta.metrics.val_nll, rel=1e-9)
    for k in range(3):
        for f in (0.7, 1.4):
            assert oof(pooled) >= oof(pooled * np.where(np.arange(3) == k, f, 1.0)) - 1e-6  # EM stops at tol 1e-7
    assert w[3] > 0.01  # a list of Omega names leans on Omega's counts
    # one network on a validation split: the same part, weights fitted on the validation names; the list's
    # styles are worked out once for the network's start and the n-gram's choice
    import namesmith.finetune as finetune
    calls = []
    real = finetune.list_styles
    monkeypatch.setattr(finetune, "list_styles", lambda ck, names: calls.append(len(names)) or real(ck, names))
    one = namesmith.fit(omega, **{**opts, "folds": 1})
    assert len(calls) == 1
    assert [p.kind for p in one.model.parts] == ["gru", "ngram", "ngram"]
    assert one.meta.metrics.val_nll == pytest.approx(
        heldout_nll(one.model, load_data(resolve({"corpus": str(omega), "val_fraction": 0.2}),
                                         (base.vocab, base.styles)).val_encoded), rel=1e-6)
    # not with --mix-ngram 0, nor when the list adds characters the base never counted, nor for a labelled list
    assert [p.kind for p in namesmith.fit(omega, **{**opts, "mix_ngram": 0}).model.parts] == ["gru", "gru"]
    new = tmp_path / "new.txt"
    new.write_text(omega.read_text(encoding="utf-8") + "sqé\n", encoding="utf-8")
    log = []
    grown = namesmith.fit(new, log=log.append, **opts)
    assert [p.kind for p in grown.model.parts] == ["gru", "gru", "ngram"]
    assert any("the base's n-gram is left out (the list adds characters it never counted)" in line for line in log)
    labelled = tmp_path / "omega.tsv"
    labelled.write_text("".join(f"{n}\tOmega\n" for n in omega.read_text(encoding="utf-8").split()), encoding="utf-8")
    kinds = [p.kind for p in namesmith.fit(labelled, **{**opts, "folds": 1}, log=lambda s: None).model.parts]
    assert kinds == ["gru", "ngram-styled"]
    # a base without styles gives its n-gram as it is
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(f"{a}{b}{a}\n" for a in "abcdefgh" for b in "abcdefgh"), encoding="utf-8")
    flat = namesmith.fit(plain, tmp_path / "flat.npz", model="gru", hidden=8, embed=4, steps=10, mix_ngram=2, **quiet)
    ft = namesmith.fit(plain, init_from=tmp_path / "flat.npz", folds=2, steps=2, mix_ngram=2, **quiet)
    assert all(np.array_equal(ft.model.parts[-1].params[k], flat.model.parts[1].params[k])
               for k in flat.model.parts[1].params)


def test_per_style_eval_strict_and_skipped(two_styles):
    from namesmith.errors import VocabError

    d, ck, _ = two_styles
    report = ck.evaluate(["abba", "zoé"], labels=["Alpha", "Omega"])
    assert report.names == 1 and report.skipped == 1 and report.unknown_chars == ["o", "é"]
    with pytest.raises(VocabError, match="never saw"):
        ck.evaluate(["abba", "zoé"], labels=["Alpha", "Omega"], strict=True)
    with pytest.raises(ConfigError, match="unknown style 'Kappa'"):
        ck.evaluate(["abba"], labels=["Kappa"])


# ----- style guidance (--style-strength) ---------------------------------------------------------
def test_guidance_is_the_formula_and_a_distribution(two_styles):
    """Letters: log P_g = (1 + g) log P_style - g log P_pooled, renormalised over the letters the style does
    not find rare (P_style >= 1e-3; the others keep P_style), scaled by 1 - P_style(end); the end token keeps
    P_style(end). Stepping, forward and nll agree with it."""
    from namesmith.batch import make_batch
    from namesmith.models.layers import log_softmax
    from namesmith.styles import styled

    _, ck, _ = two_styles
    g = 1.5
    guided = styled(ck.model, ck.styles, "Omega", g)
    style, pooled = ck.model.with_style(1), ck.model.with_style(None)
    batch = make_batch([ck.vocab.encode("stuv")], norm="sum")
    ls = log_softmax(style.forward(batch)[1]["logits"].astype(np.float64))
    lq = log_softmax(pooled.forward(batch)[1]["logits"].astype(np.float64))
    boosted = np.where(ls[..., 1:] < np.log(1e-3), ls[..., 1:], (1 + g) * ls[..., 1:] - g * lq[..., 1:])
    want = np.concatenate([ls[..., :1], log_softmax(boosted) + np.log1p(-np.exp(ls[..., :1]))], axis=-1)
    got = guided.forward(batch)[1]["logits"]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.exp(got).sum(-1), 1.0, rtol=1e-12)
    # a blend: each style guided against the one pooled pass, then mixed with the blend's weights
    blend = styled(ck.model, ck.styles, "Alpha=0.25,Omega=0.75", g).forward(batch)[1]["logits"]
    alpha = styled(ck.model, ck.styles, "Alpha", g).forward(batch)[1]["logits"]
    np.testing.assert_allclose(np.exp(blend), 0.25 * np.exp(alpha) + 0.75 * np.exp(got), rtol=1e-9, atol=1e-12)
    # the stepper gives the same next-character distributions as forward
    step, state = guided.stepper(), guided.initial_state(1)
    logits, state = step(np.zeros(1, dtype=np.int32), state)  # the first character after the start
    np.testing.assert_allclose(logits[0], got[0, 0], rtol=1e-5, atol=1e-5)  # a float32 network: step vs batch
    # scores are of the guided distribution: the NLL of the name under it
    nll = guided.nll(batch)[0, :5]
    ids = ck.vocab.encode("stuv").tolist() + [0]
    np.testing.assert_allclose(nll, [-got[0, t, c] for t, c in enumerate(ids)], rtol=1e-10)


def test_guidance_zero_is_the_style_exactly_and_more_stays_in_style(two_styles):
    _, ck, _ = two_styles
    from namesmith.sample import SampleOptions, Sampler

    unguided = Sampler(ck.model.with_style(1), ck.vocab).sample(SampleOptions(n=300, seed=4, temperature=1.6))
    plain = [s.name for s in ck.sample(300, seed=4, style="Omega", temperature=1.6, style_strength=0.0)]
    assert plain == [s.name for s in unguided]  # g = 0: the style as trained, bit for bit
    strong = [s.name for s in ck.sample(300, seed=4, style="Omega", temperature=1.6, style_strength=2.0)]
    assert _pure(strong, OMEGA) > _pure(plain, OMEGA), (_pure(strong, OMEGA), _pure(plain, OMEGA))
    # a blend mixes its guided styles; the option reaches the CLI, the web API and the page (one declaration)
    blend = [s.name for s in ck.sample(100, seed=5, style="Alpha=0.5,Omega=0.5", style_strength=1.0)]
    assert set("".join(blend)) <= set(ALPHA + OMEGA)
    with pytest.raises(ConfigError, match="style_strength must be in"):
        ck.sample(3, style="Omega", style_strength=-1)


def test_a_model_fine_tuned_on_a_list_samples_only_the_lists_characters(two_styles, tmp_path, capsys):
    """A base's alphabet does not leak into a fine-tuned list (world's 93 characters into an elvish list):
    by default only the list's characters are sampled; any_char (--any-char) or a style lifts it."""
    d, base, _ = two_styles
    small = tmp_path / "small.txt"
    small.write_text("".join(f"{a}{b}{a}\n" for a in "abcd" for b in "stuv"), encoding="utf-8")
    ck = namesmith.fit(small, tmp_path / "ft.npz", init_from=d / "two.npz", steps=20, samples=5, log=lambda s: None,
                       jobs=1)
    assert ck.meta.corpus.alphabet == "abcdstuv"
    assert all(set(n) <= set("abcdstuv") for n in ck.run.samples)
    hot = [s.name for s in ck.sample(300, seed=1, temperature=3.0)]
    assert all(set(n) <= set("abcdstuv") for n in hot)
    wild = [s.name for s in ck.sample(300, seed=1, temperature=3.0, any_char=True)]
    assert set("".join(wild)) - set("abcdstuv")  # the base's other letters (e, f, g, h, w, x, y, z) come back
    with pytest.raises(ConfigError, match="unless any_char is set"):
        ck.sample(3, prefix="zz")
    assert main(["sample", str(tmp_path / "ft.npz"), "-n", "3", "--prefix", "zz", "--any-char"]) == 0
    loaded = namesmith.load(tmp_path / "ft.npz")
    assert loaded.meta.corpus.alphabet == "abcdstuv" and base.meta.corpus.alphabet is None
