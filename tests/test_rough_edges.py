"""The rough edges a new user met (issue 29), each reproduced by its command: k-best on a small list, percentiles
of a tiny list, --style on a model without styles, --prefix with an unseen accent."""

from __future__ import annotations

import pytest

import namesmith
from namesmith.cli import main

ELVES = ["aelar", "elrond", "faelwen", "thranduil", "legolas", "galadriel", "arwen", "celebrian", "elwing",
         "luthien", "nimrodel", "amroth", "haldir", "glorfindel", "earendil", "idril", "finrod", "turgon"]


@pytest.fixture(scope="module")
def elves(tmp_path_factory):
    folder = tmp_path_factory.mktemp("elves")
    (folder / "elves.txt").write_text("\n".join(ELVES) + "\n")
    out = folder / "elves.npz"
    namesmith.fit(folder / "elves.txt", out, model="gru", hidden=32, steps=300, mix_ngram=4, samples=0,
                  log=lambda s: None)
    return out


def test_best_on_a_small_list_gives_new_names_of_a_sensible_length(elves, capsys):
    """`sample elves.npz --best 10` gave "S", "A", "G", "Elrond": one letter and training names. By default
    k-best now asks for new names of at least round(mean length) - 2 letters; given values win."""
    assert main(["sample", str(elves), "--best", "10", "--raw"]) == 0
    names = capsys.readouterr().out.split()
    shortest = round(sum(map(len, ELVES)) / len(ELVES)) - 2
    assert len(names) == 10 and all(len(n) >= shortest for n in names) and not set(names) & set(ELVES), names
    ck = namesmith.load(elves)
    loose = [s.name for s in ck.sample(10, best=10, min_len=1, novel=False)]
    assert min(map(len, loose)) < shortest or set(loose) & set(ELVES)  # the old behaviour, when asked for


def test_a_tiny_list_gives_no_percentiles_and_says_why(elves, capsys):
    """`score elves.npz Legolas Arwen Bob` said "more plausible than 0.0% of training names" for all."""
    assert main(["score", str(elves), "Legolas", "Arwen", "Bob"]) == 0
    out = capsys.readouterr().out
    assert "more plausible than" not in out and "too few to rank" in out
    assert all(s.percentile is None for s in namesmith.load(elves).score(["Arwen"]))
    assert namesmith.load("given-names").score(["Kaylee"])[0].percentile > 50  # a large list still ranks


def test_style_on_a_model_without_styles_names_one_that_has_them(capsys):
    assert main(["sample", "given-names", "--style", "female", "-n", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "namesmith sample world --style" in err


def test_an_unseen_accent_in_the_prefix_points_at_fold_accents(capsys):
    assert main(["sample", "given-names", "--prefix", "Zoë", "-n", "2"]) == 2
    assert "--fold-accents" in capsys.readouterr().err
    assert main(["sample", "given-names", "--prefix", "Zoë", "-n", "2", "--fold-accents", "--raw"]) == 0
    assert all(n.startswith("zoe") for n in capsys.readouterr().out.split())
