"""The command line, run in-process: outputs, formats and one-line user errors with exit code 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from namesmith.cli import main

NAMES = "anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise".split()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    corpus = d / "names.txt"
    corpus.write_text("\n".join(NAMES) + "\n")
    out = d / "m.npz"
    assert main(["train", str(corpus), "--model", "rnn", "--hidden", "16", "--steps", "60", "--lr", "0.01",
                 "--eval-every", "20", "--samples", "0", "--no-progress", "-o", str(out)]) == 0
    return out


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_prints_nll_and_ten_names(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--model", "rnn", "--hidden", "8", "--steps", "3", "--eval-every", "3",
                         "--samples", "0", "--no-progress", "-o", str(tmp_path / "d.npz"))
    assert code == 0
    assert "held-out NLL" in out and "nats/char" in out and "bits/char" in out
    assert "builtin:given-names" in err  # the built-in corpus is the default
    names = out.split("new names (not in the training list):\n")[1].split()
    assert len(names) == 10 and all(n[0].isupper() for n in names)


def test_sample_formats(model_path, capsys):
    code, out, _ = run(capsys, "sample", str(model_path), "-n", "5", "--seed", "3")
    assert code == 0 and len(out.split()) == 5 and all(n[0].isupper() for n in out.split())
    code, raw, _ = run(capsys, "sample", str(model_path), "-n", "5", "--seed", "3", "--raw")
    assert raw.split() == [n.lower() for n in out.split()]
    code, js, _ = run(capsys, "sample", str(model_path), "-n", "4", "--seed", "3", "--format", "json")
    rows = json.loads(js)
    assert [r["name"] for r in rows] == raw.split()[:4]
    assert set(rows[0]) == {"name", "display", "logprob", "nats_per_char", "novel", "seed"}
    code, cs, _ = run(capsys, "sample", str(model_path), "-n", "4", "--seed", "3", "--format", "csv")
    assert [r["name"] for r in csv.DictReader(io.StringIO(cs))] == raw.split()[:4]
    # a name's own seed regenerates it
    code, one, _ = run(capsys, "sample", str(model_path), "-n", "1", "--seed", str(rows[2]["seed"]), "--raw")
    assert one.strip() == rows[2]["name"]


def test_sample_constraints_and_best(model_path, capsys):
    code, out, _ = run(capsys, "sample", str(model_path), "-n", "20", "--prefix", "Lu", "--min-len", "4",
                       "--max-len", "6", "--unique", "--novel", "--raw", "--seed", "1")
    names = out.split()
    assert code == 0 and len(names) == 20 and len(set(names)) == 20
    assert all(n.startswith("lu") and 4 <= len(n) <= 6 and n not in NAMES for n in names)
    code, out, _ = run(capsys, "sample", str(model_path), "--best", "5", "--format", "json")
    lps = [r["logprob"] for r in json.loads(out)]
    assert code == 0 and len(lps) == 5 and lps == sorted(lps, reverse=True)


def test_eval_json_keys(model_path, capsys, tmp_path):
    test = tmp_path / "t.txt"
    test.write_text("anna\nlouise\n")
    code, out, _ = run(capsys, "eval", str(model_path), str(test), "--json")
    d = json.loads(out)
    assert code == 0 and {"nll", "bits_per_char", "perplexity", "names", "chars"} <= set(d)
    assert d["names"] == 2 and d["chars"] == 10 and d["bits_per_char"] == pytest.approx(d["nll"] / np.log(2))
    code, out, _ = run(capsys, "eval", str(model_path), str(test), "--samples", "200", "--json")
    gen = json.loads(out)["generation"]
    assert [g["temperature"] for g in gen] == [0.5, 0.8, 1.0]
    assert all(0 <= g["novel"] <= 1 and 0 <= g["unique"] <= 1 and 0 <= g["length_tv"] <= 1 for g in gen)
    code, out, _ = run(capsys, "eval", str(model_path), str(test))
    assert "nats/char" in out and "bits/char" in out and "perplexity" in out
    assert f"{d['nll']:.4f} ± {d['nll_se']:.4f} nats/char" in out


def test_eval_standard_error_is_the_spread_over_the_names(model_path, capsys, tmp_path):
    """``nll_se`` is what a bootstrap over the test names gives (benchmarks/paired.py), and needs two names."""
    from namesmith.api import load
    from namesmith.score import name_totals

    names = ("anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise arthur rose "
             "leo alice paul clara victor nina oscar lina theo julia").split()
    ck = load(model_path)
    names = [n for n in names if not ck.vocab.unknown(n)]  # the fixture's alphabet
    assert len(names) >= 20
    test = tmp_path / "t.txt"
    test.write_text("\n".join(names) + "\n")
    code, out, _ = run(capsys, "eval", str(model_path), str(test), "--json")
    se = json.loads(out)["nll_se"]
    encoded = ck.vocab.encode_many(names)
    totals, steps = name_totals(ck.model, encoded), encoded.lengths + 1.0
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(names), size=(20_000, len(names)))
    boot = (totals[idx].sum(axis=1) / steps[idx].sum(axis=1)).std()
    assert se == pytest.approx(boot, rel=0.05) and se > 0.01
    test.write_text("anna\n")
    code, out, _ = run(capsys, "eval", str(model_path), str(test), "--json")
    assert code == 0 and json.loads(out)["nll_se"] is None
    code, out, _ = run(capsys, "eval", str(model_path), str(test))
    assert "1 name, 4 characters (+1 end token)" in out and " ± " not in out


def test_a_constant_nll_per_character_has_no_standard_error():
    from namesmith.score import nll_standard_error

    steps = np.array([3.0, 5.0, 8.0, 4.0])
    assert nll_standard_error(2.5 * steps, steps) == pytest.approx(0.0, abs=1e-12)  # every name 2.5 nats/char
    assert nll_standard_error(np.array([7.5, 12.5, 12.0, 10.0]), steps) > 0.1


def test_score(model_path, capsys):
    code, out, _ = run(capsys, "score", str(model_path), "Anna", "Zoe", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == ["anna", "zoe"]
    assert rows[0]["logprob"] < 0 and len(rows[0]["surprisal"]) == 5 and rows[0]["surprisal"][-1]["char"] == "<end>"
    assert rows[0]["percentile"] is None  # 16 training names are too few to rank against (api.RANK_MIN)
    code, out, _ = run(capsys, "score", str(model_path), "anna", "--explain")
    assert "least expected" in out


def test_corpora(capsys):
    code, out, _ = run(capsys, "corpora")
    assert code == 0 and "given-names" in out and "36,719" in out
    code, out, _ = run(capsys, "corpora", "--json")
    assert {r["name"] for r in json.loads(out)} >= {"given-names", "census-first", "census-surnames"}


@pytest.mark.parametrize("args,fragment", [
    (["train", "/nonexistent/names.txt"], "no such file"),
    (["train", "--model", "rnn", "--lr", "-1"], "--lr"),
    (["train", "--steps", "1", "--schedule", "cosine", "--epochs", "-2"], "--epochs"),
    (["sample", "/nonexistent.npz"], "no such checkpoint"),
    (["eval", "/nonexistent.npz", "x.txt"], "no such checkpoint"),
])
def test_user_errors_are_one_line_exit_2(capsys, args, fragment):
    code, out, err = run(capsys, *args)
    assert code == 2 and fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_errors_with_a_model(model_path, capsys, tmp_path):
    code, _, err = run(capsys, "score", str(model_path), "Zoë")
    assert code == 2 and "'ë'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "sample", str(model_path), "--prefix", "x1")
    assert code == 2 and "'1'" in err
    code, _, err = run(capsys, "sample", str(model_path), "--suffix", "zzzzz", "--max-tries", "100")
    assert code == 2 and "max-tries" in err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    code, _, err = run(capsys, "sample", str(bad))
    assert code == 2 and "not a usable namesmith checkpoint" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    code, _, err = run(capsys, "eval", str(model_path), str(empty))
    assert code == 2 and "empty" in err
    notutf = tmp_path / "latin1.txt"
    notutf.write_bytes("anna\nzo\xeb\n".encode("latin-1"))
    code, _, err = run(capsys, "train", str(notutf))
    assert code == 2 and "line 2" in err and "UTF-8" in err


def test_argparse_errors_exit_2(capsys):
    code, _, err = run(capsys, "score")
    assert code == 2 and "required" in err
    code, _, err = run(capsys, "train", "--model", "transformer-xl")
    assert code == 2 and "invalid choice" in err


def test_python_dash_m_and_version():
    r = subprocess.run([sys.executable, "-m", "namesmith", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("namesmith ")
