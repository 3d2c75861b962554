"""Hardening: every defect of the fault-injection audit (issue 10), reproduced and pinned.

Test names carry the audit's item number (``test_i01_...``) so RELIABILITY.md can
point at them. The contract they pin: a user error is one line on stderr and exit
2 (1 for a failed run: divergence, a full disk), never a traceback; nothing the
user owns is modified or lost.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from namesmith.checkpoint import load_checkpoint, save_checkpoint
from namesmith.cli import main
from namesmith.errors import NamesmithError
from namesmith.vocab import Vocab

NAMES = ("anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise "
         "arthur rose leo alice paul clara victor nina oscar lina theo julia sam ivy max ruby finn").split()
SMALL = ["--model", "rnn", "--hidden", "8", "--samples", "0", "--no-progress", "--mix-ngram", "0"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "c.txt"
    p.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hard")
    c = d / "c.txt"
    c.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    out = d / "m.npz"
    assert main(["train", str(c), "--model", "rnn", "--hidden", "16", "--steps", "60", "--eval-every", "20",
                 "--samples", "0", "--no-progress", "-o", str(out)]) == 0
    return out


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> bool:
    """No traceback and exactly one error line, the last (a training run logs its progress before it)."""
    lines = err.strip().splitlines()
    errors = [x for x in lines if x.startswith("namesmith: error:")]
    return "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0]


def cli(*args, stdin=None, timeout=60, env_extra=None):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "namesmith", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=stdin)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# ----- data loss ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["corpus", "val", "metrics-name", "config", "hard-link"])
def test_i01_an_output_that_is_an_input_is_refused(tmp_path, corpus, capsys, case):
    val = tmp_path / "v.txt"
    val.write_text("mara\nkim\n")
    args = ["train", corpus, *SMALL, "--steps", "2"]
    if case == "corpus":
        args += ["-o", corpus]
    elif case == "val":
        args += ["--val", val, "-o", val]
    elif case == "metrics-name":
        named = tmp_path / "m.metrics.jsonl"
        named.write_text(corpus.read_text())
        args = ["train", named, *SMALL, "--steps", "2", "-o", tmp_path / "m.npz"]
    elif case == "config":
        toml = tmp_path / "run.last.npz"
        toml.write_text("steps = 2\n")
        args += ["--config", toml, "-o", tmp_path / "run.npz"]
    else:
        os.link(corpus, tmp_path / "alias.npz")
        args += ["-o", tmp_path / "alias.npz"]
    before = snapshot(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2 and one_line(err) and "input" in err, err
    assert snapshot(tmp_path) == before


def test_i01_seed_recipe_refuses_its_corpus_as_output(corpus, capsys):
    before = corpus.read_bytes()
    code, _, err = run(capsys, "train", corpus, "--recipe", "seed", "--steps", "2", "-o", corpus)
    assert code == 2 and one_line(err) and corpus.read_bytes() == before


def test_i02_only_regular_files_are_replaced(tmp_path, corpus, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    for target in (fifo, folder):
        t0 = time.time()
        code, _, err = run(capsys, "train", corpus, *SMALL, "--steps", "100000", "-o", target)
        assert code == 2 and one_line(err) and "regular file" in err or "directory" in err, err
        assert time.time() - t0 < 20  # refused before training, not after
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and folder.is_dir()
    # a symlink is written through: the link stays a link, its target gets the model
    target = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    link.symlink_to(target.name)
    code, _, err = run(capsys, "train", corpus, *SMALL, "--steps", "2", "-o", link)
    assert code == 0, err
    assert link.is_symlink() and load_checkpoint(target).step == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_i02_a_device_is_never_replaced(tmp_path, corpus, capsys):
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError as e:
        pytest.skip(f"mknod not permitted here: {e}")
    code, _, err = run(capsys, "train", corpus, *SMALL, "--steps", "2", "-o", dev)
    assert code == 2 and one_line(err)
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_i02_atomic_write_refuses_non_regular_targets(tmp_path):
    from namesmith.errors import OutputError
    from namesmith.files import atomic_write

    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(OutputError):
        atomic_write(fifo, lambda f: f.write(b"x"))
    with pytest.raises(OutputError):
        atomic_write(tmp_path, lambda f: f.write(b"x"))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_i03_a_failed_run_keeps_the_previous_metrics(tmp_path, corpus, capsys):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "--steps", "10", "--eval-every", "5", "-o", out)[0] == 0
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "train", corpus, *SMALL, "--steps", "10", "--eval-every", "5", "--lr", "1e300",
                       "--optimizer", "sgd", "--clip", "none", "-o", out, "--force")
    assert code == 1 and one_line(err) and "diverged" in err
    assert snapshot(tmp_path) == before  # checkpoints and metrics untouched, no temp files left


def test_i04_a_second_writer_is_refused(tmp_path, corpus):
    out = tmp_path / "m.npz"
    slow = cli("train", corpus, *SMALL, "--steps", "2", "-o", out)  # warm up byte-compiled files
    assert slow.returncode == 0, slow.stderr
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    # the lock holder must not stop on its own (no early stopping) while the second run starts
    first = subprocess.Popen([sys.executable, "-m", "namesmith", "train", str(corpus), *SMALL, "--hidden", "64",
                              "--steps", "1000000", "--patience", "0", "--eval-every", "50", "--log-every", "10",
                              "-o", str(out), "--force"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in first.stderr:  # the holder logs its steps once it holds the lock and trains
            if line.startswith("step 20/"):
                break
        second = cli("train", corpus, *SMALL, "--steps", "20", "-o", out, "--force")
        assert second.returncode == 2 and one_line(second.stderr) and "another namesmith run" in second.stderr
    finally:
        first.terminate()
        first.communicate(timeout=30)
    records = [json.loads(x) for x in (tmp_path / "m.metrics.jsonl").read_text().splitlines()]
    assert "run" in records[0]  # the header: which run the log belongs to
    steps = [r["step"] for r in records[1:]]
    assert steps == sorted(steps)


def test_i04_lock_is_released_and_reacquired(tmp_path):
    from namesmith.errors import OutputError
    from namesmith.files import OutputLock

    with OutputLock(tmp_path / "m.npz"):
        with pytest.raises(OutputError, match="another namesmith run"):
            with OutputLock(tmp_path / "m.npz"):
                pass
    with OutputLock(tmp_path / "m.npz"):
        pass
    assert not [p for p in tmp_path.iterdir() if "lock" in p.name]


def test_i05_a_huge_learning_rate_is_divergence(tmp_path, corpus, capsys):
    out = tmp_path / "d.npz"
    assert run(capsys, "train", corpus, *SMALL, "--steps", "20", "--eval-every", "10", "-o", out)[0] == 0
    before = snapshot(tmp_path)
    code, out_text, err = run(capsys, "train", corpus, *SMALL, "--steps", "20", "--eval-every", "10",
                              "--lr", "1e6", "-o", out, "--force")
    assert code == 1 and one_line(err) and "diverged" in err, err
    assert snapshot(tmp_path) == before


def test_i06_novel_means_absent_from_every_name_given(tmp_path, corpus, capsys):
    val = tmp_path / "v.txt"
    val.write_text("marvin\nmariah\n")
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "--steps", "5", "--val-fraction", "0.3", "-o", out)[0] == 0
    from namesmith.corpus import in_hashes

    known = load_checkpoint(out).extras["known_hashes"]
    assert in_hashes(NAMES, known).all()  # the validation split's names too
    assert run(capsys, "train", corpus, *SMALL, "--steps", "5", "--val", val, "-o", out, "--force")[0] == 0
    assert in_hashes(NAMES + ["marvin", "mariah"], load_checkpoint(out).extras["known_hashes"]).all()


# ----- hangs and unbounded resources -------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["train", "/dev/zero"],
    ["eval", "{model}", "/dev/zero"],
    ["score", "{model}", "--file", "/dev/zero"],
    ["sample", "{model}", "--exclude-file", "/dev/zero"],
    ["train", "{corpus}", "--val", "/dev/zero"],
    ["train", "--config", "/dev/zero"],
])
def test_i07_inputs_without_a_size_are_read_with_a_bound(model, corpus, args):
    args = [a.format(model=model, corpus=corpus) for a in args]
    t0 = time.time()
    r = cli(*args, timeout=120)
    assert r.returncode == 2 and one_line(r.stderr) and "limit" in r.stderr, r.stderr
    assert time.time() - t0 < 60


def test_i07_an_endless_pipe_is_bounded(tmp_path):
    yes = subprocess.Popen(["yes", "anna"], stdout=subprocess.PIPE)
    try:
        r = cli("train", "/dev/stdin", "-o", tmp_path / "m.npz", stdin=yes.stdout, timeout=120)
    finally:
        yes.kill()
        yes.wait()
    assert r.returncode == 2 and one_line(r.stderr) and "limit" in r.stderr


def test_i07_a_fifo_without_writer_does_not_hang(tmp_path):
    fifo = tmp_path / "names.fifo"
    os.mkfifo(fifo)
    r = cli("train", fifo, "-o", tmp_path / "m.npz", timeout=60)
    assert r.returncode == 2 and one_line(r.stderr) and "empty" in r.stderr


@pytest.mark.parametrize("bad", [dict(max_tries=2.5), dict(max_tries=0), dict(temperature="hot"), dict(prefix=5),
                                 dict(novel="no"), dict(min_len=2.0), dict(top_k=True)])
def test_i08_sample_options_are_validated(bad):
    from namesmith.errors import ConfigError
    from namesmith.sample import SampleOptions

    with pytest.raises(ConfigError):
        SampleOptions(**bad)


def test_i08_sampling_always_makes_progress(model):
    import namesmith

    ck = namesmith.load(model)
    t0 = time.time()
    with pytest.raises(namesmith.NamesmithError, match="tries"):
        ck.sample(5, seed=1, suffix="zzzzzz", max_tries=1)
    assert time.time() - t0 < 5


# ----- tracebacks instead of one-line errors -----------------------------------------------------
@pytest.mark.parametrize("args", [
    ["sample", "{model}", "--seed", "18446744073709551616"],
    ["sample", "{model}", "--seed", "-1"],
    ["eval", "{model}", "{corpus}", "--samples", "5", "--seed", "99999999999999999999999"],
    ["train", "{corpus}", "--epochs", "inf"],
    ["train", "{corpus}", "--epochs", "nan"],
    ["train", "{corpus}", "--time-limit", "inf"],
    ["train", "{corpus}", "--model", "mixture"],
    ["train", "{corpus}", "-o", ""],
    ["train", "{corpus}", "--gamma", "-5"],
    ["train", "{corpus}", "--min-lr", "-1"],
    ["train", "{corpus}", "--weight-decay", "-100"],
    ["train", "{corpus}", "--warmup", "1000000000000"],
    ["train", "{corpus}", "--decay-every", "0"],
    ["train", "{corpus}", "--clip-value", "inf"],
    ["train", "{corpus}", "--max-item-len", "1001"],
    ["train", "{corpus}", "--lr", "inf"],
    ["train", "{corpus}", "--eps", "0", "--optimizer", "adagrad"],
    ["train", "{corpus}", "--momentum", "1.5"],
    ["train", "{corpus}", "--seed", "-3"],
    ["serve", "{model}", "--port", "-1"],
    ["serve", "{model}", "--port", "70000"],
    ["serve", "{model}", "--workers", "0"],
    ["classify", "{model}"],  # no names
    ["classify", "{model}", "anna"],  # a model without styles
    ["train", "{corpus}", "--init-from", "{tmp}/no-such-base.npz"],
    ["train", "{corpus}", "--init-from", "{corpus}"],  # a corpus is not a model
    ["plot", "{model}", "-o", "{tmp}/missing/dir/p.png"],
    ["train", "--hidden", "abc"],
    ["train", "{corpus}", "--model", "transformer", "--embed", "6", "--heads", "4"],
    ["train", "{corpus}", "--model", "transformer", "--block", "0"],
    ["train", "{corpus}", "--model", "mlp", "--block", "1000"],
    ["train", "{corpus}", "--ema", "1.0"],
    ["train", "{corpus}", "--model", "lstm", "--heads", "2"],  # an option of another model family
    ["train", "{corpus}", "--model", "ngram", "--hidden", "8"],
    ["train", "{corpus}", "--model", "gru", "--order", "4"],
    ["train", "{corpus}", "--ema", "nan"],
    ["mix", "{model}"],  # one model is not an ensemble
    ["mix", "{model}", "{corpus}"],  # a corpus is not a model
    ["sample", "--style", "Italian"],  # the shipped given-names model has no styles
    ["frobnicate"],
])
def test_i12_to_i23_bad_options_are_one_line_errors(model, corpus, tmp_path, capsys, args):
    args = [a.format(model=model, corpus=corpus, tmp=tmp_path) for a in args]
    before = snapshot(corpus.parent)
    t0 = time.time()
    code, out, err = run(capsys, *args)
    assert code == 2 and one_line(err), err
    assert "usage:" not in err
    assert time.time() - t0 < 20
    assert snapshot(corpus.parent) == before


def test_i15_unwritable_output_directory_is_refused_before_training(tmp_path, corpus):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        probe = ro / "probe"
        try:
            probe.write_text("x")
            probe.unlink()
            pytest.skip("this user can write into a read-only directory (root without a read-only mount)")
        except PermissionError:
            pass
        t0 = time.time()
        r = cli("train", corpus, *SMALL, "--steps", "100000", "-o", ro / "m.npz")
        assert r.returncode == 2 and one_line(r.stderr) and "write" in r.stderr
        assert time.time() - t0 < 30
    finally:
        ro.chmod(0o755)


def test_i15_disk_full_is_one_line_and_keeps_the_previous_file(tmp_path, corpus, capsys, monkeypatch):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "--steps", "4", "--eval-every", "2", "-o", out)[0] == 0
    before = snapshot(tmp_path)
    import namesmith.files as files

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    code, _, err = run(capsys, "train", corpus, *SMALL, "--steps", "4", "--eval-every", "2", "-o", out, "--force")
    monkeypatch.setattr(files.os, "fsync", real_fsync)
    assert code == 1 and one_line(err) and "No space left" in err and "unchanged" in err, err
    after = snapshot(tmp_path)
    for name in ("m.npz", "m.last.npz"):
        assert after[name] == before[name]
    assert not [n for n in after if n.endswith(".tmp")]


def rewrite_meta(src: Path, dst: Path, edit) -> Path:
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    meta = edit(meta) or meta
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    arrays["__meta__"] = np.frombuffer(raw, dtype=np.uint8)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    return dst


def test_mixture_parts_with_different_styles_are_refused(tmp_path, capsys):
    """A file whose styled n-gram knows 1 style beside a 2-style network: asked for the second style, the n-gram
    used to answer with its pooled model; now the file is refused in one line (and Mixture.of refuses it too)."""
    from namesmith.models.mixture import Mixture
    from namesmith.models.styled_ngram import StyledNGram

    rng = np.random.default_rng(0)
    corpus = tmp_path / "two.tsv"
    corpus.write_text("".join("".join(rng.choice(list(letters), 4)) + f"\t{style}\n"
                              for _ in range(100) for style, letters in (("A", "abcd"), ("B", "wxyz"))))
    good = tmp_path / "m.npz"
    assert main(["train", str(corpus), *SMALL, "--steps", "2", "--mix-ngram", "2", "-o", str(good)]) == 0
    capsys.readouterr()
    ck = load_checkpoint(good)
    one = StyledNGram.fit({"vocab_size": ck.vocab.size, "order": 2, "styles": 1},
                          ck.vocab.encode_many(["abca", "dcba"]).with_styles(np.zeros(2, np.int32)))
    with pytest.raises(NamesmithError, match="must know the same styles"):
        Mixture.of([ck.model.parts[0], one], [0.5, 0.5])
    with np.load(good, allow_pickle=False) as z:  # the same file with that n-gram in place of its own
        arrays = {k: z[k] for k in z.files if not k.startswith("param/c1.")}
    arrays.update({f"param/c1.{k}": v for k, v in one.params.items()})
    meta = json.loads(arrays["__meta__"].tobytes())
    meta["model"]["config"]["components"][1] = {"type": one.kind, "config": one.config}
    meta["model"]["config"].pop("style_weights", None)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as f:
        np.savez(f, **arrays)
    code, _, err = run(capsys, "classify", str(bad), "abca")
    assert code != 0 and one_line(err) and "must know the same styles" in err, err


def _set(path, value):
    def edit(meta):
        d = meta
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return edit


HOSTILE_META = {
    "corpus-str": _set(["corpus"], "x"),
    "corpus-null": _set(["corpus"], None),
    "corpus-lowercase": _set(["corpus", "lowercase"], "yes"),
    "model-type-list": _set(["model", "type"], ["rnn"]),
    "metrics-str": _set(["metrics", "val_nll"], "abc"),
    "metrics-nan": _set(["metrics"], {"val_nll": float("nan")}),
    "deep": lambda m: b"[" * 100_000 + b"]" * 100_000,
    "huge-int": lambda m: b'{"format": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_META))
def test_i16_hostile_metadata_is_refused_at_load(model, tmp_path, capsys, case):
    bad = rewrite_meta(model, tmp_path / "bad.npz", HOSTILE_META[case])
    for args in (["sample", bad], ["eval", bad, model.parent / "c.txt"], ["score", bad, "anna"]):
        code, _, err = run(capsys, *args)
        assert code == 2 and one_line(err) and "not a usable namesmith checkpoint" in err, (case, err)


RESUME_STATE = {
    "step-str": _set(["train", "step"], "abc"),
    "step-negative": _set(["train", "step"], -4),
    "optimizer-t": _set(["optimizer", "t"], "x"),
    "optimizer-hyper": _set(["optimizer", "hyper"], [1, 2]),
    "window": _set(["train", "window"], {"a": 1}),
    "best-val": _set(["train", "best_val_nll"], "low"),
    "config-type": _set(["train", "config"], ["hidden", 4]),
    "config-entry": _set(["train", "config", "hidden"], "wide"),
    "since-best": _set(["train", "evals_since_best"], 2.5),
}


@pytest.mark.parametrize("case", sorted(RESUME_STATE))
def test_i16_wrong_typed_training_state_is_refused_on_resume(model, tmp_path, capsys, case):
    last = model.with_name("m.last.npz")
    bad = rewrite_meta(last, tmp_path / "bad.last.npz", RESUME_STATE[case])
    code, _, err = run(capsys, "train", "--resume", bad, "--steps", "80")
    assert code == 2 and one_line(err), (case, err)


def test_resume_with_a_config_file_is_refused(model, tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("steps = 90\n")
    code, _, err = run(capsys, "train", "--resume", model.with_name("m.last.npz"), "--config", toml)
    assert code == 2 and one_line(err) and "--config" in err


def test_i17_plot_tolerates_odd_lines_and_reports_where_it_wrote(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    m = tmp_path / "r.metrics.jsonl"
    m.write_text('[1, 2]\n"text"\n{"step": 1, "train_nll": 3.0}\n{"step": 2, "val_nll": 2.9}\nnot json\n')
    code, out, err = run(capsys, "plot", m)
    assert code == 0 and (tmp_path / "r.loss.png").exists(), err
    d = tmp_path / "plots"
    d.mkdir()
    code, out, err = run(capsys, "plot", m, "-o", d)
    assert code == 0 and (d / "r.loss.png").exists() and str(d / "r.loss.png") in out


# ----- wrong or unclear results ------------------------------------------------------------------
def test_i19_eval_skips_names_with_unseen_characters_and_reports_them(model, tmp_path, capsys):
    test = tmp_path / "t.txt"
    test.write_text("anna\ncauê\nlouise\nzoë\n")
    code, out, err = run(capsys, "eval", model, test, "--json")
    d = json.loads(out)
    assert code == 0 and d["names"] == 2 and d["skipped"] == 2 and d["unknown_chars"] == ["ê", "ë"]
    assert "skipped 2" in err
    code, out, err = run(capsys, "eval", model, test, "--strict")
    assert code == 2 and one_line(err) and "ê" in err
    code, out, err = run(capsys, "eval", model, test, "--json", "--fold-accents")
    d = json.loads(out)
    assert code == 0 and d["names"] == 4 and d["skipped"] == 0


def test_i19_score_scores_each_name_on_its_own(model, capsys):
    code, out, err = run(capsys, "score", model, "Lena", "Zoë", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == ["lena", "zoë"]
    assert rows[0]["logprob"] < 0 and rows[1]["logprob"] is None and rows[1]["unknown_chars"] == ["ë"]
    code, out, err = run(capsys, "score", model, "Zoë", "--fold-accents", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["name"] == "zoe" and rows[0]["logprob"] < 0
    code, out, err = run(capsys, "sample", model, "--prefix", "Zoë", "--fold-accents", "-n", "2", "--raw")
    assert code == 0 and all(x.startswith("zoe") for x in out.split())


@pytest.mark.parametrize("name", ["ann\nmarie", "", "   "])
def test_i20_score_refuses_the_end_token_and_empty_names(model, capsys, name):
    code, _, err = run(capsys, "score", model, name)
    assert code == 2 and one_line(err)


def test_i20_vocab_encode_refuses_the_end_token():
    from namesmith.errors import VocabError
    from namesmith.vocab import Vocab

    with pytest.raises(VocabError):
        Vocab.from_names(["ann"]).encode("an\nn")


@pytest.mark.parametrize("toml,fragment", [
    ('steps = 5\n[train]\nhidden = 4\n', "both"),
    ('[train]\nsteps = 5\n[model]\nhidden = 4\n', "model"),
    ('[data]\ncorpus = "x"\n', "data"),
    ('epochs = inf\n', "epochs"),
])
def test_i22_ambiguous_or_unknown_toml_is_refused(tmp_path, capsys, toml, fragment):
    p = tmp_path / "c.toml"
    p.write_text(toml)
    code, _, err = run(capsys, "train", "--config", p)
    assert code == 2 and one_line(err) and fragment in err, err


def test_i24_no_numpy_warnings_next_to_errors(corpus, tmp_path):
    r = cli("train", corpus, *SMALL, "--steps", "6", "--lr", "1e300", "--optimizer", "sgd", "--clip", "none",
            "-o", tmp_path / "m.npz")
    assert r.returncode == 1 and one_line(r.stderr) and "Warning" not in r.stderr
    r = cli("sample", tmp_path / "none.npz", "-t", "1e-320")
    assert "Warning" not in r.stderr


def test_i24_weights_that_overflow_are_refused(model, tmp_path, capsys):
    ck = load_checkpoint(model.with_name("m.neural.npz"))
    ck.model.params["Wya"][...] = 3e38
    ck.model.params["Waa"][...] = 3e38
    bad = tmp_path / "big.npz"
    save_checkpoint(bad, ck.model, ck.vocab, ck.meta, extras=ck.extras)
    test = model.parent / "c.txt"
    for args in (["eval", bad, test], ["score", bad, "anna"], ["sample", bad, "-n", "3"]):
        code, out, err = run(capsys, *args)
        assert code == 2 and one_line(err) and "Warning" not in err and "finite" in err, (args, err)


def test_i25_ngram_key_bound_is_exact():
    from namesmith.errors import ConfigError
    from namesmith.models.ngram import NGram

    # (V+1)**N must stay below 2**63 for the (context, target) ids: V = 55107 is the largest for order 4
    assert 55108 ** 4 < 2**63 <= 55109 ** 4
    NGram.check_config({"vocab_size": 55107, "order": 4})
    with pytest.raises(ConfigError):
        NGram.check_config({"vocab_size": 55108, "order": 4})


def test_i25_unfiltered_sampling_draws_exactly_n(model):
    import namesmith

    ck = namesmith.load(model)
    report = ck.sample(10, seed=1, offensive="allow")
    assert report.tries == 10 and len(report) == 10
    report = ck.sample(1000, seed=2, max_len=8, offensive="allow")
    assert report.tries == 1000
    report = ck.sample(1000, seed=2, max_len=8)  # the default offensive filter counts what it rejects
    assert report.tries == 1000 + sum(report.rejected.values()) and set(report.rejected) <= {"offensive"}


def test_i25_ngram_run_says_what_it_saved(corpus, tmp_path, capsys):
    code, out, err = run(capsys, "train", corpus, "--model", "ngram", "--order", "3", "-o", tmp_path / "g.npz")
    assert code == 0 and "last" not in out and "g.npz" in out
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".npz") == ["g.npz"]


def test_i25_stale_temp_files_of_the_same_output_are_removed(tmp_path, corpus, capsys):
    stale = tmp_path / ".m.npz.namesmith-abc123_9.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / ".other.npz.namesmith-abc123_9.tmp"
    other.write_bytes(b"not ours")
    assert run(capsys, "train", corpus, *SMALL, "--steps", "2", "-o", tmp_path / "m.npz")[0] == 0
    assert not stale.exists() and other.exists()


def test_i26_resume_from_the_finished_model_name_uses_last(tmp_path, corpus, capsys):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "--steps", "4", "--eval-every", "2", "-o", out)[0] == 0
    code, _, err = run(capsys, "train", "--resume", out, "--steps", "6")
    assert code == 0 and "m.last.npz" in err, err
    assert load_checkpoint(tmp_path / "m.last.npz").step == 6


# ----- the Python API raises NamesmithError for wrong types ---------------------------------------
def test_i27_python_api_validates_at_the_boundary(model, tmp_path):
    import namesmith
    from namesmith.score import evaluate, score_names

    ck = namesmith.load(model)
    cases = [
        lambda: score_names(ck.model, ck.vocab, "Kara"),
        lambda: score_names(ck.model, Vocab.from_names(["xyz"]), ["xy"]),
        lambda: evaluate(ck.model, ck.vocab, []),
        lambda: ck.score("Kara"),
        lambda: ck.score([5]),
        lambda: ck.evaluate([]),
        lambda: ck.sample("5"),
        lambda: ck.sample(5, colour="red"),
        lambda: ck.best(0),
        lambda: namesmith.fit(tmp_path / "c.txt", batch_size=0),
        lambda: namesmith.fit(tmp_path / "c.txt", steps=-5),
        lambda: namesmith.fit(tmp_path / "c.txt", hidden="big"),
        lambda: namesmith.load(42),
        lambda: save_checkpoint(tmp_path / "x.npz", ck.model, ck.vocab, extras={"known_hashes": np.array([object()])}),
    ]
    (tmp_path / "c.txt").write_text("\n".join(NAMES))
    for i, case in enumerate(cases):
        with pytest.raises(NamesmithError):
            case()
    assert not (tmp_path / "x.npz").exists()


# ----- the web server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(model):
    from namesmith.web.server import App, Server

    srv = Server(App({"m": str(model)}, time_budget=0.5), timeout=1.0).start()
    yield srv
    srv.stop()


def http(server, raw: bytes, timeout=10.0) -> bytes:
    host, port = server.address
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            pass
        return b"".join(chunks)


def post(path: str, body: bytes, method="POST", extra=b"") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n").encode() + extra + b"\r\n" + body


def test_i09_many_clients_at_once_all_get_an_answer(server):
    host, port = server.address
    socks = [socket.create_connection((host, port), timeout=30) for _ in range(200)]
    for s in socks:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    statuses = []
    for s in socks:
        data = b""
        try:
            while True:
                c = s.recv(4096)
                if not c:
                    break
                data += c
        except OSError:
            pass
        s.close()
        statuses.append(data.split(b" ", 2)[1] if data.startswith(b"HTTP/") else b"none")
    assert all(x in (b"200", b"503") for x in statuses), statuses
    assert statuses.count(b"200") >= 50


def test_i10_the_time_budget_holds_inside_generation(server):
    t0 = time.time()
    body = json.dumps({"n": 500, "min_len": 64, "max_len": 64, "suffix": "zz"}).encode()
    res = http(server, post("/api/generate", body))
    assert res.startswith(b"HTTP/1.1 422") and time.time() - t0 < 2.0, res[:200]


def test_i11_idle_and_versionless_connections_are_timed_out(server):
    t0 = time.time()
    assert http(server, b"", timeout=10) == b""
    http(server, b"GET /healthz\r\n", timeout=10)
    assert time.time() - t0 < 6


@pytest.mark.parametrize("raw,status", [
    (post("/api/generate", b'{"n": ' + b"9" * 4500 + b"}"), b"400"),
    (post("/api/generate", b"[" * 5000 + b"]" * 5000), b"400"),
    (b"PUT /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n", b"413"),
    (b"PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n", b"400"),
    (b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n", b"400"),
])
def test_i18_hostile_requests_get_a_4xx(server, raw, status):
    res = http(server, raw)
    assert res.split(b" ", 2)[1] == status, res[:300]
    assert b"Traceback" not in res


def test_i18_early_disconnects_print_no_traceback(model):
    r = subprocess.Popen([sys.executable, "-c", f"""
import socket, sys, time
from namesmith.web.server import App, Server
srv = Server(App({{"m": {str(model)!r}}})).start()
host, port = srv.address
for _ in range(20):
    s = socket.create_connection((host, port))
    body = b'{{"n": 500, "max_len": 30}}'
    s.sendall(b"POST /api/generate HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00")
    s.close()
time.sleep(1.5)
srv.stop()
"""], stderr=subprocess.PIPE, text=True)
    _, err = r.communicate(timeout=60)
    assert "Traceback" not in err and "Error" not in err, err


def test_i25_models_endpoint_shows_file_names_not_paths(server, model):
    res = http(server, b"GET /api/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = json.loads(res.split(b"\r\n\r\n", 1)[1])
    assert body["models"][0]["corpus"] == "c.txt"
    assert str(model.parent) not in res.decode()
