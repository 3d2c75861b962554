"""The seed recipe reproduces the notebook's published log (acceptance test)."""

from __future__ import annotations

import numpy as np

from namesmith.cli import main
from namesmith.checkpoint import load_checkpoint
from namesmith.models.rnn import RNN
from namesmith.recipes.seed import notebook_sample, read_examples

from conftest import KANTROWITZ, need_shared

PUBLISHED_0 = ["Mjzwwtalcpncyfrpv rhihvt", "Imc'", "Jzwwtalcpncyfrpv rhihvt", "Mc'", "Zwwtalcpncyfrpv rhihvt"]
PUBLISHED_20000 = ["Meytth", "Ilea", "Justna", "Mad", "Wrys"]


def parse_log(text: str) -> dict[int, tuple[float, list[str]]]:
    blocks = {}
    for chunk in text.split("Iteration: ")[1:]:
        head, _, rest = chunk.partition("\n\n")
        it, _, loss = head.partition(", Loss: ")
        names = [n for n in rest.split("\n") if n]
        blocks[int(it)] = (float(loss), names)
    return blocks


def test_reproduces_published_log(tmp_path, capsys):
    need_shared(KANTROWITZ)
    out = tmp_path / "seed.npz"
    assert main(["train", str(KANTROWITZ), "--recipe", "seed", "--steps", "20001", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Iteration: 0, Loss: 23.809027\n\nMjzwwtalcpncyfrpv rhihvt\nImc'\n")
    log = parse_log(text)
    assert sorted(log) == [0, 10000, 20000]
    assert log[0] == (23.809027, PUBLISHED_0)
    # iteration 10000 is not in the published log; these are the recipe's own deterministic values
    # on the shipped reconstruction (the same as a literal transcription of the notebook prints)
    assert log[10000][0] == 10.346994 and log[10000][1][0] == "Mexttm"
    loss, names = log[20000]
    assert names == PUBLISHED_20000
    assert abs(loss - 13.579897) / 13.579897 < 0.01
    # the trained model is a normal namesmith checkpoint
    ck = load_checkpoint(out)
    assert ck.model.kind == "rnn" and ck.model.config["hidden"] == 50 and ck.step == 20001


def test_reads_lines_exactly_as_the_notebook(tmp_path):
    p = tmp_path / "n.txt"
    p.write_bytes(b"\nAnna\r\n  Bob \n\nX-y\n")
    vocab, examples = read_examples(p)
    assert examples == ["", "anna", "bob", "", "x-y"]
    assert vocab.chars == tuple(sorted(set("\nanna\n  bob \n\nx-y\n")))


def test_notebook_sampler_reuses_draws_two_seeds_apart():
    """Name s+2 is name s without its first character (when both are long enough)."""
    V, H = 6, 8
    rng = np.random.default_rng(0)
    model = RNN({"vocab_size": V, "hidden": H, "dtype": "float64"},
                {"Wax": np.zeros((H, V)), "Waa": np.zeros((H, H)), "b": np.zeros((H, 1)),
                 "Wya": np.zeros((V, H)), "by": rng.normal(size=(V, 1)) - np.eye(V)[:, :1] * 3})
    # with constant probabilities, draws depend only on the seeds used
    for s in range(3):
        a, b = notebook_sample(model, s)[:-1], notebook_sample(model, s + 2)[:-1]  # drop the end token
        assert len(a) >= 3 and b[: len(a) - 1] == a[1:]


def test_recipe_refuses_options_it_does_not_have(capsys):
    assert main(["train", "x.txt", "--recipe", "seed", "--hidden", "10"]) == 2
    assert "--hidden" in capsys.readouterr().err


def test_recipe_reads_a_builtin_corpus_and_saves_a_usable_model(tmp_path, capsys):
    out = tmp_path / "seed.npz"
    assert main(["train", "census-first", "--recipe", "seed", "--steps", "3", "-o", str(out)]) == 0
    assert "Iteration: 0, Loss:" in capsys.readouterr().out
    assert main(["sample", str(out), "-n", "2", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
