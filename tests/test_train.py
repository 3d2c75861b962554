"""The training loop: learning, exact resume across processes, divergence, Ctrl-C, config files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from namesmith.checkpoint import load_checkpoint
from namesmith.cli import main
from namesmith.config import resolve
from namesmith.errors import ConfigError
from namesmith.api import fit

NAMES = ("anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise "
         "arthur rose leo alice paul clara victor nina oscar lina theo julia sam ivy max ruby finn").split()


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "names.txt"
    p.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return p


def run_cli(*args, env_extra=None, timeout=120):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "namesmith", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def losses(metrics: Path) -> dict[int, float]:
    out = {}
    for line in metrics.read_text().splitlines():
        rec = json.loads(line)
        if "train_nll" in rec:
            out[rec["step"]] = rec["train_nll"]
    return out


def test_training_learns(corpus, tmp_path):
    res = fit(corpus, tmp_path / "m.npz", model="rnn", hidden=32, steps=150, batch_size=8, lr=1e-2, eval_every=50,
              log_every=10, samples=2, log=lambda s: None)
    ls = losses(tmp_path / "m.metrics.jsonl")
    assert ls[150] < ls[10] - 0.5
    assert res.val_nll is not None and res.run.steps == 150 and len(res.run.samples) == 10
    ck = load_checkpoint(tmp_path / "m.npz")
    assert ck.meta.train.config["hidden"] == 32
    assert ck.extras["known_hashes"].size == len(set(NAMES))  # every name given, the validation split's too
    assert "train_nll_quantiles" not in ck.extras  # fewer than RANK_MIN names rank nothing: not computed
    assert (tmp_path / "m.last.npz").exists()



def test_evaluation_checkpoints_are_stored_and_the_final_files_compressed(corpus, tmp_path):
    """The checkpoints written at every evaluation skip compression (0.3 s of each evaluation of the default
    preset, for 7% of their size); the files a user keeps (the model, the network alone) stay compressed."""
    import zipfile

    fit(corpus, tmp_path / "m.npz", model="rnn", hidden=16, steps=20, batch_size=8, eval_every=10, samples=0,
        log=lambda s: None)

    def kinds(name):
        with zipfile.ZipFile(tmp_path / name) as z:
            return {i.compress_type for i in z.infolist()}

    assert kinds("m.last.npz") == {zipfile.ZIP_STORED}
    assert kinds("m.npz") == kinds("m.neural.npz") == {zipfile.ZIP_DEFLATED}
    assert load_checkpoint(tmp_path / "m.last.npz").step == 20

@pytest.mark.parametrize("model_args", [
    ["--model", "rnn", "--hidden", "16", "--schedule", "step", "--decay-every", "15", "--warmup", "5"],
    ["--model", "gru", "--hidden", "12", "--layers", "2", "--dropout", "0.2", "--embed", "8",
     "--schedule", "cosine", "--decay-steps", "40"],
    ["--model", "transformer", "--embed", "8", "--heads", "2", "--layers", "2", "--hidden", "16", "--dropout", "0.1",
     "--ema", "0.9", "--decay-steps", "40"],
])
def test_resume_is_bit_for_bit_across_processes(corpus, tmp_path, model_args):
    common = [str(corpus), *model_args, "--batch-size", "4", "--eval-every", "7", "--log-every", "1",
              "--optimizer", "adamw", "--weight-decay", "0.01", "--samples", "0"]
    full = run_cli("train", *common, "--steps", "40", "-o", str(tmp_path / "a.npz"))
    assert full.returncode == 0, full.stderr
    first = run_cli("train", *common, "--steps", "20", "-o", str(tmp_path / "b.npz"))
    assert first.returncode == 0, first.stderr
    # a checkpoint saved at step 20, continued to 40 total steps in another process
    second = run_cli("train", "--resume", str(tmp_path / "b.last.npz"), "--steps", "40")
    assert second.returncode == 0, second.stderr
    a, b = load_checkpoint(tmp_path / "a.last.npz"), load_checkpoint(tmp_path / "b.last.npz")
    assert a.step == b.step == 40
    for k in a.model.params:
        assert np.array_equal(a.model.params[k], b.model.params[k]), k
    for k in a.optim:
        assert np.array_equal(a.optim[k], b.optim[k]), k
    la, lb = losses(tmp_path / "a.metrics.jsonl"), losses(tmp_path / "b.metrics.jsonl")
    assert sorted(la) == sorted(lb) == list(range(1, 41))
    assert la == lb


def test_resume_refuses_changed_model_and_data(corpus, tmp_path):
    out = tmp_path / "m.npz"
    assert main(["train", str(corpus), "--model", "rnn", "--hidden", "8", "--steps", "4", "--eval-every", "2",
                 "--samples", "0", "--no-progress", "-o", str(out)]) == 0
    with pytest.raises(ConfigError, match="--hidden"):
        fit(resume=tmp_path / "m.last.npz", hidden=9, log=lambda s: None)
    with pytest.raises(ConfigError, match="--corpus"):
        fit("other.txt", resume=tmp_path / "m.last.npz", log=lambda s: None)
    corpus.write_text("zed\nyan\n" + corpus.read_text())  # same file, different content
    with pytest.raises(ConfigError, match="different data"):
        fit(resume=tmp_path / "m.last.npz", log=lambda s: None)


def test_divergence_exits_1_and_keeps_good_checkpoints(corpus, tmp_path, capsys):
    out = tmp_path / "m.npz"
    base = [str(corpus), "--model", "rnn", "--hidden", "8", "--eval-every", "5", "--samples", "0", "--no-progress"]
    assert main(["train", *base, "--steps", "10", "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("m*.npz")}
    capsys.readouterr()
    code = main(["train", "--resume", str(tmp_path / "m.last.npz"), "--steps", "30", "--lr", "1e38",
                 "--optimizer", "sgd", "--clip", "none", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2  # --optimizer cannot change on resume: a user error
    assert "--optimizer" in err
    code = main(["train", *base, "--steps", "30", "--lr", "1e38", "--optimizer", "sgd", "--clip", "none",
                 "-o", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert code == 1 and "diverged" in err and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()
    assert {p.name: p.read_bytes() for p in tmp_path.glob("m*.npz")} == before


def test_divergence_during_resume_leaves_checkpoints_untouched(corpus, tmp_path, capsys):
    out = tmp_path / "m.npz"
    args = [str(corpus), "--model", "rnn", "--hidden", "8", "--eval-every", "5", "--samples", "0",
            "--optimizer", "sgd", "--clip", "none", "--no-progress", "-o", str(out)]
    assert main(["train", *args, "--steps", "10"]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("m*.npz")}
    code = main(["train", "--resume", str(tmp_path / "m.last.npz"), "--steps", "30", "--lr", "1e38",
                 "--no-progress"])
    assert code == 1 and "untouched" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.glob("m*.npz")} == before


def test_ctrl_c_saves_last_and_exits_130(corpus, tmp_path):
    out = tmp_path / "m.npz"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "namesmith", "train", str(corpus), "--model", "gru", "--hidden", "64",
         "--steps", "1000000", "--eval-every", "1000000", "--log-every", "5", "--samples", "0", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:  # the log shows training is under way (the metrics file is staged until a save)
        if line.startswith("step 10/"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted at step" in stderr and "--resume" in stderr and "Traceback" not in stderr
    ck = load_checkpoint(tmp_path / "m.last.npz")
    assert ck.step >= 10


def test_time_limit_and_early_stopping(corpus, tmp_path):
    t0 = time.time()
    res = fit(corpus, tmp_path / "t.npz", model="rnn", hidden=8, time_limit=1.0, samples=0, patience=None,
              eval_every=50, log=lambda s: None)
    assert res.run.stopped == "time limit" and time.time() - t0 < 20
    res = fit(corpus, tmp_path / "e.npz", model="rnn", hidden=64, steps=100000, lr=0.05, schedule="constant",
              batch_size=4, eval_every=20, patience=3, samples=0, log=lambda s: None)
    assert res.run.stopped == "early stopping" and res.run.steps < 100000


def test_toml_config_and_cli_override(corpus, tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text(f'[train]\ncorpus = "{corpus}"\nmodel = "rnn"\nhidden = 12\nsteps = 6\neval-every = 3\n'
                    f'samples = 0\nout = "{tmp_path / "c.npz"}"\n')
    assert main(["train", "--config", str(toml), "--hidden", "10", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert '"hidden": 10' in err  # the resolved configuration is printed at start
    ck = load_checkpoint(tmp_path / "c.npz")
    cfg = ck.meta.train.config
    assert cfg["hidden"] == 10 and cfg["steps"] == 6 and cfg["preset"] == "default"
    # the default preset interpolates the trained network with a 6-gram; the network is kept too
    assert ck.model.kind == "mixture" and cfg["mix_ngram"] == 6
    assert load_checkpoint(tmp_path / "c.neural.npz").model.config["hidden"] == 10
    bad = tmp_path / "bad.toml"
    bad.write_text("hidden = 'big'\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "hidden" in capsys.readouterr().err
    bad.write_text("colour = 3\n")
    assert main(["train", "--config", str(bad)]) == 2
    bad.write_text("[[[\n")
    assert main(["train", "--config", str(bad)]) == 2


def test_plot_writes_png(corpus, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "m.npz"
    assert main(["train", str(corpus), "--model", "rnn", "--hidden", "8", "--steps", "20", "--eval-every", "5",
                 "--log-every", "2", "--samples", "0", "--no-progress", "-o", str(out)]) == 0
    assert main(["plot", str(out)]) == 0
    png = tmp_path / "m.loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_presets_and_precedence(tmp_path):
    from namesmith.config import PRESETS

    default = resolve({})
    assert default.preset == "default" and default.model == "lstm" and default.steps == 9000
    fast = resolve({"preset": "fast"})
    assert fast.preset == "fast" and all(getattr(fast, k) == v for k, v in PRESETS["fast"].items())
    assert resolve({"preset": "best", "hidden": 64}).hidden == 64  # the command line wins over the preset
    toml = tmp_path / "c.toml"
    toml.write_text('preset = "fast"\nhidden = 96\n')
    assert resolve({}, str(toml)).hidden == 96 and resolve({"hidden": 80}, str(toml)).hidden == 80
    # an explicit epoch or time budget replaces the default step budget
    assert resolve({"epochs": 2.0}).steps is None and resolve({"time_limit": 30.0}).steps is None
    assert resolve({"epochs": 2.0, "steps": 10}).steps == 10
    with pytest.raises(ConfigError, match="preset"):
        resolve({"preset": "huge"})


def test_resume_refuses_finished_models_with_a_pointer(corpus, tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert main(["train", str(corpus), "--model", "rnn", "--hidden", "8", "--steps", "4", "--eval-every", "2",
                 "--samples", "0", "--no-progress", "-o", str(out)]) == 0
    capsys.readouterr()
    # m.npz is the final mixture (network + n-gram): the run continues from its last state, and says so
    code = main(["train", "--resume", str(out), "--steps", "6", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0 and "resuming from its last state" in err and "m.last.npz" in err
    # without the last state, the finished model is refused with a pointer to where that state would be
    (tmp_path / "m.last.npz").rename(tmp_path / "kept.last.npz")
    code = main(["train", "--resume", str(out), "--steps", "8", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "m.last.npz" in err and "Traceback" not in err
    assert main(["train", "--resume", str(tmp_path / "kept.last.npz"), "--steps", "8", "--no-progress",
                 "-o", str(tmp_path / "kept.npz")]) == 0
    seed = tmp_path / "seed.npz"
    assert main(["train", str(corpus), "--recipe", "seed", "--steps", "5", "--log-every", "100", "-o", str(seed)]) == 0
    capsys.readouterr()
    code = main(["train", "--resume", str(seed), "--steps", "10"])
    err = capsys.readouterr().err
    assert code == 2 and "seed-recipe" in err and "Traceback" not in err


def test_mean_normalisation_weighs_every_character_equally(corpus, tmp_path):
    """With --norm mean a batch's loss is its NLL sum over (names x corpus mean tokens): no length bias."""
    import importlib

    T = importlib.import_module("namesmith.train")
    seen = []
    orig = T.pad

    def spy(encoded, idx=None, **kw):
        b = orig(encoded, idx, **kw)
        if kw.get("norm") != "sum":  # training batches, not evaluation
            seen.append((b.size, b.norm, b.tokens))
        return b

    T.pad = spy
    try:
        fit(corpus, model="rnn", hidden=8, steps=3, batch_size=4, samples=0, mix_ngram=0, eval_every=3,
            log=lambda s: None)
    finally:
        T.pad = orig
    per_name = {round(norm / n, 9) for n, norm, _ in seen}
    assert len(per_name) == 1  # the same expected tokens per name for every batch
    assert any(norm != tokens for _, norm, tokens in seen)  # not each batch's own count


def test_overfitting_is_not_divergence(corpus, tmp_path, monkeypatch):
    """A held-out NLL worse than uniform with a healthy training loss: saved, with a warning; not exit 1."""
    import namesmith.train as T

    monkeypatch.setattr(T, "heldout_nll", lambda model, encoded, rows=1024: 9.0)  # every evaluation is bad
    logs = []
    ck = fit(corpus, tmp_path / "o.npz", model="rnn", hidden=16, steps=30, eval_every=10, samples=0, mix_ngram=0,
             log=logs.append)
    assert ck.run.stopped == "steps" and (tmp_path / "o.npz").exists()
    assert any("worse than uniform guessing" in line and "over-fitted" in line for line in logs)
    records = [json.loads(x) for x in (tmp_path / "o.metrics.jsonl").read_text().splitlines()]
    assert "run" in records[0]  # the header
    assert all("train_seconds" in r for r in records[1:] if "phases" not in r)  # evaluation records carry it too


def test_step_streams_are_stateless_and_distinct():
    """Step s's dropout stream depends only on (seed, s): repeatable, different for other steps and seeds."""
    from namesmith.train import STREAM_DROPOUT, StepStreams

    a, b = StepStreams(7, STREAM_DROPOUT), StepStreams(7, STREAM_DROPOUT)
    x5 = a.at(5).random(64)
    a.at(6).random(1000)  # using another step's stream in between changes nothing
    assert np.array_equal(a.at(5).random(64), x5) and np.array_equal(b.at(5).random(64), x5)
    assert not np.array_equal(a.at(6).random(64), x5)
    assert not np.array_equal(StepStreams(8, STREAM_DROPOUT).at(5).random(64), x5)


def test_the_time_of_each_phase_is_reported(corpus, tmp_path):
    logs = []
    ck = fit(corpus, tmp_path / "p.npz", model="rnn", hidden=8, steps=20, eval_every=10, samples=0, log=logs.append)
    phases = ck.run.phases
    assert {"reading the data", "hashing the names", "training steps", "evaluations and checkpoints",
            "the n-gram mixture", "saving", "sample names"} <= set(phases)
    assert "score quantiles" not in phases  # a list of fewer than RANK_MIN names ranks nothing
    assert all(v >= 0 for v in phases.values())
    assert any(line.startswith("namesmith: time: reading the data") for line in logs)
    last = json.loads((tmp_path / "p.metrics.jsonl").read_text().splitlines()[-1])
    assert last["phases"] == phases and last["step"] == 20
    ng = fit(corpus, model="ngram", order=3, log=logs.append)
    assert "fitting" in ng.run.phases


def test_ema_keeps_and_evaluates_the_averaged_weights(corpus, tmp_path):
    """With --ema the best model holds the optimizer's moving average (not the trained weights), the last
    checkpoint the trained weights and the average beside them."""
    fit(corpus, tmp_path / "m.npz", model="mlp", embed=4, hidden=16, block=3, steps=30, batch_size=8, lr=1e-2,
        eval_every=30, mix_ngram=0, ema=0.9, samples=0, log=lambda s: None)
    best, last = load_checkpoint(tmp_path / "m.npz"), load_checkpoint(tmp_path / "m.last.npz")
    for k, v in best.model.params.items():
        assert np.array_equal(v, last.optim[f"ema/{k}"]), k
    assert any(not np.array_equal(v, last.model.params[k]) for k, v in best.model.params.items())


def test_mix_makes_an_ensemble_of_runs_on_one_split(corpus, tmp_path, capsys):
    """Two networks of runs on the same split + an n-gram: weights fitted on the validation names, so the
    ensemble's validation NLL is no worse than any of its parts alone; it samples and saves like any model."""
    import namesmith
    from namesmith.train import heldout_nll, load_data
    from namesmith.config import from_dict

    quiet = {"steps": 40, "batch_size": 8, "eval_every": 20, "samples": 0, "log": lambda s: None}
    a = fit(corpus, tmp_path / "a.npz", model="gru", hidden=16, embed=8, **quiet)
    b = fit(corpus, tmp_path / "b.npz", model="mlp", hidden=16, embed=4, block=3, **quiet)
    ens = namesmith.mix([tmp_path / "a.npz", tmp_path / "b.npz"], tmp_path / "e.npz", order=3, log=lambda s: None)
    kinds = [p.kind for p in ens.model.parts]
    assert kinds == ["gru", "mlp", "ngram"] and abs(sum(ens.model.config["weights"]) - 1) < 1e-9
    data = load_data(from_dict(a.meta.train.config))
    for part in ens.model.parts:
        assert ens.val_nll <= heldout_nll(part, data.val_encoded) + 1e-4  # EM: up to its tolerance
    assert ens.val_nll <= min(a.val_nll, b.val_nll) + 1e-4
    saved = namesmith.load(tmp_path / "e.npz")
    assert saved.model.config == ens.model.config and len(saved.sample(5, seed=0, novel=True)) == 5
    assert main(["mix", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o", str(tmp_path / "e2.npz"),
                 "--order", "3"]) == 0
    # another seed means another validation split: refused in one line, nothing written
    fit(corpus, tmp_path / "c.npz", model="mlp", hidden=8, embed=4, seed=5, **quiet)
    capsys.readouterr()
    assert main(["mix", str(tmp_path / "a.npz"), str(tmp_path / "c.npz"), "-o", str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err
    assert "seed differs" in err and err.count("\n") == 1 and not (tmp_path / "bad.npz").exists()
    # a count model has no network to mix; an input is never overwritten
    fit(corpus, tmp_path / "n.npz", model="ngram", order=3, log=lambda s: None)
    assert main(["mix", str(tmp_path / "a.npz"), str(tmp_path / "n.npz")]) == 2
    before = (tmp_path / "a.npz").read_bytes()
    assert main(["mix", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o", str(tmp_path / "a.npz")]) == 2
    assert (tmp_path / "a.npz").read_bytes() == before


def test_a_small_list_is_evaluated_every_few_epochs_and_stops_within_patience_of_its_best(tmp_path):
    """--eval-epochs: a 48-name fold evaluated every 50 steps (33 epochs) ran 300 steps after its best; with
    the cadence in epochs it is evaluated every round(E * N / B) steps, and stops `patience` evaluations after
    its best (a cadence left at --eval-every fails both)."""
    import namesmith

    names = [f"{a}{b}{c}" for a in "bdgk" for b in "aeiou" for c in "lnrs"][:48]
    corpus = tmp_path / "small.txt"
    corpus.write_text("\n".join(names) + "\n")
    out = tmp_path / "small.npz"
    namesmith.fit(corpus, out, model="gru", hidden=16, embed=8, batch_size=16, steps=3000, eval_every=50,
                  eval_epochs=2, patience=2, lr=3e-2, val_fraction=0.25, mix_ngram=0, samples=0,
                  log=lambda s: None)
    recs = [json.loads(line) for line in (tmp_path / "small.metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if r.get("val_nll") is not None]
    train_names = 36
    every = round(2 * train_names / 16)  # 4 steps: 2 epochs of 36 names at batch 16
    assert [r["step"] for r in evals[:3]] == [every, 2 * every, 3 * every]
    best = min(evals, key=lambda r: r["val_nll"])["step"]
    assert evals[-1]["step"] - best <= 2 * every  # stopped patience (2) evaluations after its best
    assert evals[-1]["step"] < 3000


def test_score_quantiles_are_computed_from_rank_min_names(corpus, tmp_path, monkeypatch):
    from namesmith import run as runmod

    monkeypatch.setattr(runmod, "RANK_MIN", 10)
    ck = fit(corpus, tmp_path / "q.npz", model="rnn", hidden=8, steps=5, samples=0, log=lambda s: None)
    assert ck.quantiles.size == 1001 and "score quantiles" in ck.run.phases


def test_off_values_turn_an_optional_option_off_and_leave_the_others():
    cfg = resolve({"eval_epochs": 0.0, "patience": 0, "mix_ngram": 0, "ema": 0.0})
    assert cfg.eval_epochs is None and cfg.patience is None and cfg.mix_ngram == 0 and cfg.ema == 0.0
    # the default preset evaluates at least every 4 epochs, unless a step cadence alone is given
    assert resolve({}).eval_epochs == 4.0 and resolve({"eval_every": 10}).eval_epochs is None
    assert resolve({"eval_every": 10, "eval_epochs": 2.0}).eval_epochs == 2.0

