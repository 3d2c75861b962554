"""The offensive-name filter (namesmith.offensive): whole and embedded matches after the normalisation people
use to dodge filters, no Scunthorpe problem on real names, the modes, and its place among the sampler's filters."""

from __future__ import annotations

import pytest

import namesmith
from namesmith import offensive
from namesmith.cli import main
from namesmith.corpus import load_corpus


@pytest.mark.parametrize("name,how", [
    ("Fuck", "whole"), ("FUCK", "whole"), ("Fvck", "whole"), ("Fuuuuck", "whole"), ("F-u-c-k", "whole"),
    ("B1tch", "whole"), ("$h1t", "whole"), ("Shît", "whole"), ("Asss", "whole"), ("Big-Dick", "whole"),
    ("Mary Cunt", "whole"), ("Bastardo", "whole"),  # another language's word, 4 letters or more
    ("Shitiqua", "embedded"), ("Shiiitiqua", "embedded"), ("Penisha", "embedded"), ("Fuckston", "embedded"),
    ("Twatson", "embedded"), ("Massholena", "embedded"), ("Sh1tiqua", "embedded"),
])
def test_offensive_names_are_caught_through_leetspeak_accents_and_repeats(name, how):
    verdict = offensive.check(name)
    assert verdict is not None and verdict.how == how, (name, verdict)
    assert offensive.rejects(name, "block") and offensive.rejects(name, "strict")
    assert not offensive.rejects(name, "allow")


@pytest.mark.parametrize("name", ["Michelle", "Rochelle", "Hitchcock", "Babcock", "Janus", "Cassandra", "Assunta",
                                  "Yamashita", "Sexton", "Dickens", "Analia", "Nigella", "Cumberbatch", "Kaylee",
                                  "It", "And", "Shital", "Draper", "Atwater", "Cummings"])
def test_real_names_and_innocent_substrings_pass(name):
    assert offensive.check(name) is None, (name, offensive.check(name))


def test_a_real_name_that_is_a_listed_word_passes_unless_strict():
    """Dick and Cumming are real names (US given names, surnames): 'block' lets them pass, 'strict' does not;
    a name from the model's own training list counts as real too."""
    for name in ("Dick", "Cumming"):
        v = offensive.check(name)
        assert v.how == "whole" and v.real
        assert not offensive.rejects(name, "block") and offensive.rejects(name, "strict")
    assert offensive.check("Fvck").real is False
    assert offensive.check("Fvck", known=True).real and not offensive.rejects("Fvck", "block", known=True)


def test_no_real_name_of_the_built_in_corpora_is_rejected_by_default():
    """The false-rejection rate of 'block' on the built-in corpora is 0 by construction (real names pass, an
    embedded word inside 3 real names in the same place is ambiguous); strict rejects the listed ones."""
    names = sorted(set(load_corpus("given-names").names) | set(load_corpus("census-surnames").names))
    assert not [n for n in names if offensive.rejects(n, "block")]
    strict = [n for n in names if offensive.rejects(n, "strict")]
    assert "dick" in strict and len(strict) < 0.005 * len(names)


def test_the_sampler_rejects_and_counts_offensive_names():
    """A seeded run with 'allow' that yields offensive names; with 'block' none of them, the same other names
    in the same order, and each rejection counted."""
    ck = namesmith.load("given-names")
    free = ck.sample(3000, seed=1, offensive="allow")
    bad = [s.name for s in free if offensive.rejects(s.name, "block")]
    assert bad, "the seed should give some offensive candidates"
    safe = ck.sample(3000, seed=1)  # block is the default
    assert safe.rejected.get("offensive") == len(bad)
    assert not [s.name for s in safe if offensive.rejects(s.name, "block")]
    kept = [s.name for s in free if s.name not in bad]
    assert [s.name for s in safe][: len(kept)] == kept  # the candidates' own seeds: nothing else moves


def test_score_and_classify_flag_rather_than_refuse(capsys):
    ck = namesmith.load("world")
    got = {s.name: s.offensive for s in ck.score(["Shitiqua", "Dick", "Kaylee"])}
    assert got == {"shitiqua": "holds an offensive word", "dick": "a real name, also an offensive word",
                   "kaylee": None}
    assert ck.classify(["Fvck"])[0].offensive == "an offensive word"
    assert main(["score", "world", "Penisha"]) == 0
    assert "[holds an offensive word]" in capsys.readouterr().out
    assert main(["sample", "given-names", "-n", "3", "--offensive", "nasty"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["Bira", "Takip", "Annan", "Amina", "Anita"])
def test_everyday_words_of_the_left_out_list_and_real_names_pass(name):
    assert not offensive.rejects(name, "block"), offensive.check(name)


def test_no_real_rejects_names_of_a_built_in_corpus():
    """--no-real world: no name of the world corpus comes out, though the model was not trained on all of them;
    without it, some do (so the test can fail)."""
    ck = namesmith.load("given-names")
    world = {n.lower() for n in load_corpus("world").names}
    free = [s.name for s in ck.sample(2000, seed=4)]
    assert set(free) & world
    got = ck.sample(2000, seed=4, no_real="world")
    assert not {s.name for s in got} & world and got.rejected["real"] > 0
    with pytest.raises(namesmith.NamesmithError, match="no_real must be one of"):
        ck.sample(2, no_real="klingon")


def test_no_words_rejects_common_words_of_a_language():
    pytest.importorskip("wordfreq", reason="wordfreq is not installed (pip install -e '.[test]')")
    from wordfreq import available_languages, zipf_frequency

    from namesmith.realwords import LANGUAGES, WORD_ZIPF

    assert sorted(LANGUAGES) == sorted(available_languages())  # the declared choices are wordfreq's
    ck = namesmith.load("given-names")
    free = [s.name for s in ck.sample(3000, seed=2)]
    words = [n for n in free if zipf_frequency(n, "en") >= WORD_ZIPF]
    assert words, "common English words among the samples (rose, mark...) so that the test can fail"
    got = ck.sample(3000, seed=2, no_words="en")
    assert not [s.name for s in got if zipf_frequency(s.name, "en") >= WORD_ZIPF]
    assert got.rejected["word"] >= len(words)
