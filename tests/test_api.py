"""The Python API: the README's example runs as written; load, sample, best, score, evaluate, fit."""

from __future__ import annotations


import pytest

import namesmith
from namesmith.errors import ConfigError, NamesmithError


NAMES = ("anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise kara "
         "arthur rose leo alice paul clara victor nina oscar lina theo julia sam ivy max ruby finn").split()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    corpus = d / "names.txt"
    corpus.write_text("\n".join(NAMES) + "\n")
    ck = namesmith.fit(corpus, d / "model.npz", model="gru", hidden=24, steps=120, eval_every=40, samples=0,
                       log=lambda s: None)
    return d, ck


def test_checkpoint_methods(trained):
    d, ck = trained
    ck = namesmith.load(d / "model.npz")
    a = ck.sample(6, seed=3, prefix="a", min_len=3)
    assert [s.name for s in a] == [s.name for s in ck.sample(6, seed=3, prefix="a", min_len=3)]
    one = ck.sample(1, seed=a[2].seed, prefix="a", min_len=3)[0]
    assert one.name == a[2].name  # a name's own seed regenerates it
    best = ck.best(4, min_len=3)
    assert len(best) == 4 and all(s.seed is None for s in best)
    assert [s.logprob for s in best] == sorted((s.logprob for s in best), reverse=True)
    scores = ck.score(["Kara", "Zoë"])
    assert scores[1].logprob is None and scores[1].unknown_chars == ["ë"]
    assert scores[0].percentile is None and not ck.ranks  # a list of fewer than 1,000 names ranks nothing
    assert ck.score(["Zoë"], fold_accents=True)[0].name == "zoe"
    report = ck.evaluate(["anna", "kara", "zoë"])
    assert report.names == 2 and report.skipped == 1
    assert ck.evaluate(d / "names.txt").names == len(NAMES)
    copy = ck.save(d / "copy.npz")
    assert namesmith.load(copy).sample(3, seed=1) == ck.sample(3, seed=1)


def test_fit_in_memory_writes_nothing_and_changes_no_process_setting(tmp_path, monkeypatch):
    from threadpoolctl import threadpool_info

    import namesmith.runtime as runtime

    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(NAMES))
    before = [i["num_threads"] for i in threadpool_info()]
    malloc_before = runtime._malloc_done
    ck = namesmith.fit(corpus, model="rnn", hidden=8, steps=20, eval_every=10, samples=0, log=lambda s: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]
    assert [i["num_threads"] for i in threadpool_info()] == before and runtime._malloc_done == malloc_before
    assert ck.run.paths is None and ck.run.steps == 20 and ck.val_nll is not None
    assert ck.model.kind == "mixture" and len(ck.sample(3, seed=0)) == 3


def test_fit_resume_continues_the_run(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(NAMES))
    namesmith.fit(corpus, tmp_path / "r.npz", model="rnn", hidden=8, steps=10, eval_every=5, samples=0,
                  log=lambda s: None)
    ck = namesmith.fit(resume=tmp_path / "r.last.npz", steps=16, log=lambda s: None)
    assert ck.run.steps == 16 and namesmith.load(tmp_path / "r.last.npz").meta.train.step == 16


def test_namesmith_train_is_the_module():
    import namesmith.train

    assert hasattr(namesmith.train, "train_step") and callable(namesmith.fit)


@pytest.mark.parametrize("bad", [
    lambda ck: ck.sample(-1), lambda ck: ck.sample(3, seed=-1), lambda ck: ck.sample(3, seed=2**53),
    lambda ck: ck.best(3, temperature="x"), lambda ck: ck.evaluate(42), lambda ck: ck.score(None),
])
def test_wrong_inputs_raise_namesmith_errors(trained, bad):
    with pytest.raises(NamesmithError):
        bad(trained[1])


def test_a_large_alphabet_trains_mixes_and_samples(tmp_path):
    """1,500 symbols (CJK-like): the mixture's 6-gram is lowered to the highest order whose keys fit, and said so."""
    import numpy as np

    rng = np.random.default_rng(0)
    chars = [chr(0x4E00 + i) for i in range(1500)]
    names = ["".join(rng.choice(chars, size=rng.integers(1, 4))) for _ in range(3000)]
    names += ["".join(chars[i : i + 500]) for i in range(0, 1500, 500)]  # every symbol appears
    corpus = tmp_path / "cjk.txt"
    corpus.write_text("\n".join(names) + "\n", encoding="utf-8")
    lines = []
    ck = namesmith.fit(corpus, tmp_path / "m.npz", model="gru", hidden=8, embed=4, steps=6, eval_every=3,
                       samples=0, mix_ngram=6, max_item_len=500, log=lines.append)
    assert ck.vocab.size == 1501
    assert any("mixed with a 5-gram (order 6 does not fit 64-bit keys for 1,501 symbols)" in line for line in lines)
    assert len(ck.sample(5, seed=1)) == 5
    assert ck.vocab.alphabet() == "一-\u53db"  # one run of consecutive code points


# ----- --folds: cross-validation bagging ------------------------------------------------------------------
def test_fold_data_holds_out_each_name_once():
    from namesmith.config import resolve
    from namesmith.corpus import Corpus
    from namesmith.train import fold_data, load_data

    data = load_data(resolve({"corpus": None, "val_fraction": 0.0}))
    small = type(data)(data.train.subset(range(103), "x"), Corpus((), "none"), data.vocab,
                       data.encoded.take(range(103)), data.encoded.take([]), data.source)
    splits = fold_data(small, 4, seed=5)
    held = [n for s in splits for n in s.val.names]
    assert sorted(held) == sorted(small.train.names) and len(held) == 103  # every name held out exactly once
    for s in splits:
        assert not set(s.train.names) & set(s.val.names) and len(s.train) + len(s.val) == 103
        assert [data.vocab.decode(x) for x in s.val_encoded] == list(s.val.names)
        assert [data.vocab.decode(x) for x in s.encoded] == list(s.train.names)
    assert [s.val.names for s in fold_data(small, 4, seed=5)] == [s.val.names for s in splits]
    assert [s.val.names for s in fold_data(small, 4, seed=6)] != [s.val.names for s in splits]


def test_folds_average_networks_with_an_ngram_of_all_names(tmp_path):
    import numpy as np

    from namesmith.corpus import load_corpus
    from namesmith.models.mixture import component_logprobs
    from namesmith.models.ngram import NGram
    from namesmith.train import fold_data, load_data
    from namesmith.config import resolve

    corpus = tmp_path / "names.txt"
    corpus.write_text("\n".join(NAMES) + "\n")
    opts = {"model": "gru", "hidden": 8, "steps": 30, "eval_every": 10, "folds": 3, "mix_ngram": 3, "samples": 0}
    log = []
    ck = namesmith.fit(corpus, tmp_path / "bag.npz", log=log.append, **opts)
    parts = ck.model.parts
    assert [p.kind for p in parts] == ["gru"] * 3 + ["ngram"] and ck.meta.train.stopped == "folds"
    w = ck.model.config["weights"]
    assert w[0] == w[1] == w[2] and sum(w) == pytest.approx(1.0)
    assert any("averaged 3 networks" in line and "out-of-fold NLL" in line for line in log)
    assert len(ck.meta.metrics.member_val_nll) == 3 and ck.run.steps == 90
    # the n-gram is fitted on every name; the weights are the out-of-fold optimum
    data = load_data(resolve({"corpus": str(corpus), "val_fraction": 0.0, **opts}))
    assert len(data.train) == len(load_corpus(str(corpus)))
    full = NGram.fit({"vocab_size": data.vocab.size, "order": 3}, data.encoded)
    assert all(np.array_equal(full.params[k], parts[3].params[k]) for k in full.params)
    cfg = {"vocab_size": data.vocab.size, "order": 3}
    lp = np.concatenate([component_logprobs([net, NGram.fit(cfg, s.encoded)], s.val_encoded)
                         for net, s in zip(parts[:3], fold_data(data, 3, 1337))], axis=1)

    def oof(w_net):
        return np.log(w_net * np.exp(lp[0]) + (1 - w_net) * np.exp(lp[1])).mean()
    fitted = 3 * w[0]
    assert -oof(fitted) == pytest.approx(ck.meta.metrics.val_nll, rel=1e-9)
    assert oof(fitted) >= max(oof(fitted * 0.8), oof(min(1.0, fitted * 1.2)), oof(0.5)) - 1e-12
    again = namesmith.load(tmp_path / "bag.npz")
    assert again.model.config == ck.model.config
    assert namesmith.fit(corpus, log=lambda s: None, **opts).model.config == ck.model.config  # same seed, same run
    plain = namesmith.fit(corpus, log=lambda s: None, **{**opts, "mix_ngram": 0})  # no n-gram: a plain average
    assert [p.kind for p in plain.model.parts] == ["gru"] * 3 and plain.model.config["weights"] == [1 / 3] * 3
    oof_nets = -np.concatenate([component_logprobs([net], s.val_encoded)
                                for net, s in zip(parts[:3], fold_data(data, 3, 1337))], axis=1).mean()
    assert plain.meta.metrics.val_nll == pytest.approx(oof_nets, rel=1e-9)


@pytest.mark.parametrize("extra, message", [
    ({"val": "names.txt"}, "leave out --val"), ({"model": "ngram"}, "fitted from counts"),
    ({"folds": 8}, "folds must be in"), ({"folds": 30}, "folds must be in"),
])
def test_folds_refuses_what_it_cannot_do(tmp_path, extra, message):
    (tmp_path / "names.txt").write_text("\n".join(NAMES) + "\n")
    opts = {"model": "gru", "hidden": 8, "steps": 5, "folds": 3, "samples": 0, **extra}
    if opts["model"] == "ngram":
        del opts["hidden"], opts["steps"]
    if "val" in opts:
        opts["val"] = tmp_path / "names.txt"
    with pytest.raises(ConfigError, match=message):
        namesmith.fit(tmp_path / "names.txt", log=lambda s: None, **opts)


def test_folds_refuses_labelled_lists_and_too_few_names(tmp_path):
    (tmp_path / "l.tsv").write_text("".join(f"{n}\tA\n" for n in NAMES), encoding="utf-8")
    with pytest.raises(ConfigError, match="unlabelled"):
        namesmith.fit(tmp_path / "l.tsv", model="gru", hidden=8, steps=5, folds=3, log=lambda s: None)
    (tmp_path / "few.txt").write_text("anna\nbob\neve\notto\nada\n")
    with pytest.raises(ConfigError, match="at least 6 names"):
        namesmith.fit(tmp_path / "few.txt", model="gru", hidden=8, steps=5, folds=3, log=lambda s: None)


def test_folds_interrupted_saves_nothing(tmp_path, monkeypatch):
    from namesmith.run import NetworkRun
    from namesmith.errors import Interrupted

    (tmp_path / "names.txt").write_text("\n".join(NAMES) + "\n")
    real, calls = NetworkRun.train, []

    def train_network(self):  # each fold's training loop
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted("interrupted at step 3")
        return real(self)

    monkeypatch.setattr(NetworkRun, "train", train_network)
    with pytest.raises(Interrupted, match="interrupted in fold 2 of 3; nothing saved"):
        namesmith.fit(tmp_path / "names.txt", tmp_path / "out.npz", model="gru", hidden=8, steps=5, folds=3,
                      samples=0, jobs=1, log=lambda s: None)  # one after the other (in parallel: test_ensemble.py)
    assert not (tmp_path / "out.npz").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["names.txt"]
