"""Names like the ones a user likes (issue 29): ``like=`` on sample, ``namesmith similar``, the web API's field."""

from __future__ import annotations

import json

import numpy as np
import pytest

import namesmith
from namesmith.cli import main
from namesmith.errors import ConfigError, VocabError
from namesmith.similar import BETA, closeness, like_blend, liked_names
from namesmith.web.server import App
from namesmith.web.app import GenerateRequest

from conftest import two_style_model


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory):
    """A GRU + n-gram mixture on two styles with disjoint alphabets (Alpha: a-h, Omega: s-z)."""
    return namesmith.load(two_style_model(tmp_path_factory.mktemp("similar"), per_style=600, steps=200))


def tv(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def posterior(ck, names) -> np.ndarray:
    return np.array([[r.styles[s] for s in ck.styles] for r in ck.classify(names)]).mean(axis=0)


def test_closeness_is_the_nearest_liked_name_and_the_blend_keeps_the_large_shares():
    d = closeness(["aria", "arianna", "luna", "zed"], ["aria", "luna"])
    np.testing.assert_allclose(d, [0.0, 3 / 7, 0.0, 1.0])  # the nearest liked name, normalised by the longer
    post = np.array([[0.70, 0.28, 0.02, 0.0], [0.50, 0.46, 0.03, 0.01]])
    blend = like_blend(post, ["A", "B", "C", "D"])
    assert list(blend) == ["A", "B"]  # C (2.5%) and D fall below the 5% share
    assert blend["A"] == pytest.approx(0.60 / 0.97) and sum(blend.values()) == pytest.approx(1.0)


def test_liked_names_are_parsed_and_bounded():
    assert liked_names(" Aria, Luna ,,Nova,Aria") == ["Aria", "Luna", "Nova"]
    for bad in ("", " , ", ",".join(f"n{i}" for i in range(21)), "x" * 1001, 3):
        with pytest.raises(ConfigError):
            liked_names(bad)


def test_similar_returns_new_close_names_of_the_liked_names_style(two_styles):
    ck = two_styles
    for liked in ("Tuvy", "Bacad"):
        got = ck.similar(liked, 12, seed=4)
        names = [s.name for s in got]
        assert len(names) == 12 == len(set(names)) and liked.lower() not in names
        assert all(s.novel for s in got)  # new names by default, as best's
        plain = ck.sample(12, seed=4, novel=True)
        assert closeness(names, [liked.lower()]).mean() < closeness([s.name for s in plain], [liked.lower()]).mean()
        # the style posterior of what came back is closer to the liked name's than unsteered names' is
        want = posterior(ck, [liked])
        assert tv(posterior(ck, names), want) < tv(posterior(ck, [s.name for s in plain]), want)
        assert max(got.steered, key=got.steered.get) == max(zip(want, ck.styles))[1]
        # ranked by the stated cost, lowest first
        cost = closeness(names, [liked.lower()]) + BETA * np.array([s.nats_per_char for s in got])
        assert np.all(np.diff(cost) >= -1e-9)


def test_like_steers_by_several_names_and_is_reproducible(two_styles):
    ck = two_styles
    a = ck.sample(10, like="Tuvy,Stuw,Wyxs", seed=9)
    b = ck.sample(10, like=["Tuvy", "Stuw", "Wyxs"], seed=9)
    assert [s.name for s in a] == [s.name for s in b] and a.seed == b.seed == 9
    assert set("".join(s.name for s in a)) <= set("stuvwxyz")  # every name in Omega's alphabet
    assert [s.name for s in ck.sample(like="Tuvy", key="npc-1")] == [s.name for s in ck.sample(like="Tuvy",
                                                                                                key="npc-1")]
    # a given style wins over the liked names' posterior
    styled = ck.sample(10, like="Tuvy", style="Alpha", seed=1)
    alpha = ck.styles.index("Alpha")
    assert styled.steered is None
    assert posterior(ck, [s.name for s in styled])[alpha] > posterior(ck, [s.name for s in a])[alpha] + 0.3


def test_like_works_without_styles_and_refuses_what_it_cannot_do(two_styles):
    ck = namesmith.load("given-names")
    got = ck.similar("Aria", 8, seed=2)
    assert got.steered is None and len(got) == 8 and all(s.novel for s in got)
    assert closeness([s.name for s in got], ["aria"]).mean() < 0.6
    with pytest.raises(ConfigError, match="like or best"):
        ck.sample(5, like="Aria", best=5)
    with pytest.raises(VocabError, match="fold_accents"):
        ck.similar("Zoë")
    assert len(ck.similar("Zoë", 3, fold_accents=True, seed=1)) == 3


def test_the_similar_command_and_the_web_api(two_styles, capsys, tmp_path):
    ck = namesmith.load("given-names")
    assert main(["similar", "given-names", "Aria", "Luna", "-n", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [s.display for s in ck.sample(4, like="Aria,Luna", seed=3)]
    assert main(["sample", "given-names", "--like", "Aria,Luna", "-n", "4", "--seed", "3"]) == 0
    assert capsys.readouterr().out.split() == out
    keys = tmp_path / "keys.txt"
    keys.write_text("a\nb\n")
    assert main(["sample", "given-names", "--keys", str(keys), "--like", "Aria"]) == 2
    assert "--like" in capsys.readouterr().err
    app = App({"styled": two_styles})
    body = app.generate(GenerateRequest(like="Tuvy", n=5, seed=2))
    assert len(body["names"]) == 5 and max(body["steered"], key=body["steered"].get) == "Omega"
    assert json.dumps(body)


def test_the_export_refuses_like_and_has_no_control_for_it(two_styles):
    from namesmith.export import PYTHON_ONLY, document

    doc = document(two_styles)
    assert {"best", "like", "no_words", "no_real"} <= set(doc["python_only"]) == set(PYTHON_ONLY)
    assert not {o["name"] for o in doc["page_options"]} & set(PYTHON_ONLY)
    assert {o["name"] for o in doc["options"]} >= set(PYTHON_ONLY)  # known, so refused by name with a reason


def test_like_under_a_time_budget_ranks_what_it_has_or_says_what_to_change(two_styles):
    """The web API's 2-s budget ran out on three liked names of the world model: "found only 0 of 6 names"
    (a pool's count). Now the pools drawn in time are ranked when they hold n names, else one clear line."""
    import time

    from namesmith.sample import OutOfTime, SampleOptions

    ck = two_styles
    with pytest.raises(OutOfTime, match="ask for fewer names or like fewer names"):
        ck.like(SampleOptions(n=10, like="Tuvy,Bacad", seed=1), deadline=time.perf_counter())
    got = ck.like(SampleOptions(n=10, like="Tuvy,Bacad", seed=1), deadline=time.perf_counter() + 60)
    assert len(got) == 10
