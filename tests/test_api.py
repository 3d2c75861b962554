"""The Python API: the README's example runs as written; load, sample, best, score, evaluate, fit."""

from __future__ import annotations

import os
import re

import pytest

import namesmith
from namesmith.errors import NamesmithError

from conftest import ROOT

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


def test_readme_three_line_example_runs(trained, capsys):
    d, _ = trained
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([x for x in code.splitlines() if x.strip()]) == 4  # import + three lines
    cwd = os.getcwd()
    os.chdir(d)  # the example loads "model.npz"
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    names = re.findall(r"\('([^']+)', (-[\d.]+)\)", out)
    assert len(names) == 5 and all(n.startswith("ka") and len(n) <= 8 for n, _ in names)
    assert all(n not in NAMES for n, _ in names)  # novel=True against the names the model was given
    assert re.search(r"\] \d+(\.\d+)?$", out.strip())  # the percentile


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
    assert scores[0].percentile is not None and scores[1].logprob is None and scores[1].unknown_chars == ["ë"]
    assert ck.score(["Zoë"], fold_accents=True)[0].name == "zoe"
    report = ck.evaluate(["anna", "kara", "zoë"])
    assert report["names"] == 2 and report["skipped"] == 1
    assert ck.evaluate(d / "names.txt")["names"] == len(NAMES)
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
    assert ck.run.steps == 16 and namesmith.load(tmp_path / "r.last.npz").step == 16


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
