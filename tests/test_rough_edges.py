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


def test_every_part_of_a_name_is_capitalised_and_particles_stay_lowercase():
    """The page and the CLI printed "De hann" and "Mary jane": only the start was capitalised."""
    from namesmith.text import capitalised

    assert capitalised("mary jane") == "Mary Jane" and capitalised("de hann") == "De Hann"
    assert capitalised("van der berg") == "Van der Berg"  # a particle first is capitalised, later ones are not
    assert capitalised("ludwig van beethoven") == "Ludwig van Beethoven"
    assert capitalised("mac an tsaoi") == "Mac an Tsaoi" and capitalised("ó briain") == "Ó Briain"
    assert capitalised("jean-luc picard") == "Jean-Luc Picard" and capitalised("Kara") == "Kara"


def test_the_loss_plot_keeps_its_legend_off_the_curves_and_names_what_each_best_is(elves, tmp_path):
    """`namesmith plot` on a fine-tuning run: the legend covered the curves, the "best" labels of the folds
    overlapped, and "best 1.8921" (the network alone) stood beside the run's reported 1.8778 (the mixture)."""
    from matplotlib.figure import Figure

    from namesmith.plot import draw, plot_run

    curves = {k: ([(s, 3.0 - s / 1000) for s in range(0, 500, 50)], [(s, 2.5 - k / 10 - s / 2000)
                                                                    for s in range(0, 500, 100)]) for k in (1, 2, 3)}
    ax = Figure().add_subplot(1, 1, 1)
    draw(ax, curves, ("mixture", 1.8778))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not ax.texts  # no text beside the points to overlap
    assert "network 2: validation, network alone (best 2.1000 at step 400)" in labels
    assert any("the saved model (networks + n-gram): 1.8778" in x for x in labels)
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1  # beside the axes, not over them
    png = plot_run(elves, tmp_path / "elves.png")
    assert png.stat().st_size > 10_000

