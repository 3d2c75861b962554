"""Hardening, round two (issue 25): every defect of the second fault-injection audit, reproduced and pinned.

Test names carry the audit's group (``test_loss_`` data loss, ``test_hang_``, ``test_tb_`` tracebacks,
``test_wrong_`` silent wrong results, ``test_mem_``); RELIABILITY.md points at them. Each failed on
the code before its fix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from namesmith.checkpoint import load_checkpoint
from namesmith.cli import main

NAMES = ("anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise "
         "arthur rose leo alice paul clara victor nina oscar lina theo julia sam ivy max ruby finn").split()
DINOS = ("aardonyx abelisaurus achelousaurus achillobator acrocanthosaurus aegyptosaurus afrovenator "
         "agilisaurus alamosaurus albertaceratops albertosaurus alectrosaurus alioramus allosaurus").split()
SMALL = ["--model", "rnn", "--hidden", "8", "--samples", "0", "--no-progress", "--mix-ngram", "0",
         "--steps", "4", "--eval-every", "2"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "c.txt"
    p.write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def dinos(tmp_path) -> Path:
    p = tmp_path / "dinos.txt"
    p.write_text("\n".join(DINOS) + "\n", encoding="utf-8")
    return p


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> bool:
    lines = err.strip().splitlines()
    errors = [x for x in lines if x.startswith("namesmith: error:")]
    return "Traceback" not in err and len(errors) == 1 and lines[-1] == errors[0]


def cli(*args, timeout=60, **kw):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "namesmith", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, **kw)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def run_id(path: Path) -> str:
    return load_checkpoint(path).meta["run"]["id"]


# ----- data loss ---------------------------------------------------------------------------------------
def test_loss_another_runs_model_is_not_replaced_without_force(tmp_path, corpus, dinos, capsys):
    out = tmp_path / "model.npz"
    assert run(capsys, "train", corpus, *SMALL, "-o", out)[0] == 0
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "train", dinos, *SMALL, "-o", out)
    assert code == 2 and one_line(err) and "--force" in err, err
    assert snapshot(tmp_path) == before


def test_loss_force_replaces_the_run_and_sweeps_its_side_files(tmp_path, corpus, dinos, capsys):
    """The issue's sequence: after a forced replacement, --resume cannot pick up the first run's last state."""
    out = tmp_path / "model.npz"
    assert run(capsys, "train", corpus, *SMALL, "--mix-ngram", "3", "-o", out)[0] == 0
    first = run_id(out)
    assert run(capsys, "train", dinos, "--model", "ngram", "--order", "3", "-o", out, "--force")[0] == 0
    assert run_id(out) != first
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("model"))
    assert left == ["model.npz"], left  # the first run's .last, .neural and .metrics are gone
    code, _, err = run(capsys, "train", "--resume", out, "--steps", "6")
    assert code == 2 and one_line(err), err


def test_loss_resume_refuses_a_last_state_of_another_run(tmp_path, corpus, dinos, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(capsys, "train", corpus, *SMALL, "-o", a)[0] == 0
    assert run(capsys, "train", dinos, *SMALL, "-o", b)[0] == 0
    os.replace(tmp_path / "a.last.npz", tmp_path / "b.last.npz")  # a last state that is not b's
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "train", "--resume", b, "--steps", "6")
    assert code == 2 and one_line(err) and "another run" in err, err
    assert snapshot(tmp_path) == before


def test_loss_resume_continues_its_own_run_without_force(tmp_path, corpus, capsys):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "-o", out)[0] == 0
    rid = run_id(out)
    assert run(capsys, "train", "--resume", out, "--steps", "6")[0] == 0
    assert run_id(out) == rid == run_id(tmp_path / "m.last.npz")
    header = json.loads((tmp_path / "m.metrics.jsonl").read_text().splitlines()[0])
    assert header["run"] == rid


def test_loss_resume_never_writes_over_its_own_input(tmp_path, corpus, capsys):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "-o", out)[0] == 0
    before = snapshot(tmp_path)
    last = tmp_path / "m.last.npz"
    code, _, err = run(capsys, "train", "--resume", last, "-o", last, "--steps", "6")
    assert code == 2 and one_line(err), err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("target", ["m.npz", "m.last.npz", "notes.txt"])
def test_loss_plot_writes_only_over_its_own_plots(tmp_path, corpus, capsys, target):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "-o", out)[0] == 0
    (tmp_path / "notes.txt").write_text("my notes\n")
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "plot", out, "-o", tmp_path / target)
    assert code == 2 and one_line(err), err
    assert snapshot(tmp_path) == before
    assert run(capsys, "plot", out, "-o", tmp_path / "curve.png")[0] == 0
    assert run(capsys, "plot", out, "-o", tmp_path / "curve.png")[0] == 0  # its own plot may be replaced


def test_loss_a_run_without_mix_ngram_leaves_no_stale_network_file(tmp_path, corpus, capsys):
    out = tmp_path / "m.npz"
    assert run(capsys, "train", corpus, *SMALL, "--hidden", "16", "--mix-ngram", "3", "-o", out)[0] == 0
    assert (tmp_path / "m.neural.npz").exists()
    assert run(capsys, "train", "--resume", out, "--steps", "6", "--mix-ngram", "0")[0] == 0
    assert not (tmp_path / "m.neural.npz").exists()  # the same run's stale network file went with it


def test_loss_the_lock_file_is_never_followed_through_a_symlink(tmp_path, corpus, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".m.npz.lock").symlink_to(victim)
    code, _, err = run(capsys, "train", corpus, "--model", "ngram", "-o", tmp_path / "m.npz")
    assert code == 2 and one_line(err) and "lock" in err, err
    assert victim.read_text() == "precious\n"


def test_loss_a_directory_as_lock_file_is_one_line(tmp_path, corpus, capsys):
    (tmp_path / ".m.npz.lock").mkdir()
    code, _, err = run(capsys, "train", corpus, "--model", "ngram", "-o", tmp_path / "m.npz")
    assert code == 2 and one_line(err) and "lock" in err, err


def test_loss_a_users_file_named_like_a_temp_file_is_kept(tmp_path, corpus, capsys):
    mine = tmp_path / ".m.npz.keep.tmp"
    mine.write_text("mine\n")
    assert run(capsys, "train", corpus, "--model", "ngram", "-o", tmp_path / "m.npz")[0] == 0
    assert mine.read_text() == "mine\n"


@pytest.mark.parametrize("other", ["m", "m.last.npz"])
def test_loss_two_runs_sharing_side_files_are_not_both_accepted(tmp_path, corpus, other):
    """-o m and -o m.npz (or m.npz and m.last.npz) name the same files: the second run is refused."""
    slow = ["--model", "rnn", "--hidden", "8", "--samples", "0", "--no-progress", "--mix-ngram", "0",
            "--steps", "100000", "--eval-every", "50"]
    first = subprocess.Popen([sys.executable, "-m", "namesmith", "train", str(corpus), *slow, "-o",
                              str(tmp_path / "m.npz")], stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 30
        while not (tmp_path / "m.last.npz").exists() and time.time() < deadline:
            time.sleep(0.1)
        r = cli("train", corpus, *slow, "--steps", "4", "-o", tmp_path / other)
        assert r.returncode == 2 and one_line(r.stderr), r.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)


def test_loss_save_does_not_replace_another_runs_model(tmp_path, corpus, capsys):
    import namesmith
    from namesmith.errors import OutputError

    a = tmp_path / "a.npz"
    assert run(capsys, "train", corpus, *SMALL, "-o", a)[0] == 0
    b = tmp_path / "b.npz"
    assert run(capsys, "train", corpus, *SMALL, "--seed", "2", "-o", b)[0] == 0
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="force"):
        namesmith.load(a).save(b)
    assert snapshot(tmp_path) == before
    namesmith.load(a).save(tmp_path / "copy.npz")
    namesmith.load(a).save(tmp_path / "copy.npz")  # the same model again: its own file
    namesmith.load(a).save(b, force=True)
    assert run_id(b) == run_id(a)
