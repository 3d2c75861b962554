"""The pretrained models shipped with namesmith: present, small, loadable by name, with their styles."""

from __future__ import annotations

import json

import pytest

import namesmith
from namesmith.cli import main
from namesmith.pretrained import PRETRAINED, pretrained_path

from conftest import ROOT


@pytest.mark.parametrize("name", list(PRETRAINED))
def test_shipped_model_is_installed_small_and_samples(name):
    path = pretrained_path(name)
    assert path is not None, f"{name}: run scripts/build_pretrained.py"
    assert path.stat().st_size <= 8_000_000  # the styles issue's bound (issue 27: each <= 8 MB)
    ck = namesmith.load(name)
    names = [s.name for s in ck.sample(20, seed=0, novel=True)]
    assert len(names) == 20 and all(names)


def test_world_has_styles_and_names_right_after_install(capsys):
    ck = namesmith.load("world")
    assert len(ck.styles) == 59 and {"Italian", "German", "Japanese", "Russian", "Thai"} <= set(ck.styles)
    assert main(["sample", "world", "--style", "Italian", "-n", "5", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.split()) == 5
    top = ck.classify(["oluwaseun", "häkkinen", "van der berg", "ferrari", "giuseppe", "yamamoto", "kowalczyk"], top=3)
    assert [r.style for r in top] == ["Yoruba", "Finnish", "Dutch", "Italian", "Italian", "Japanese", "Polish"]
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(PRETRAINED) and all(r["installed"] for r in rows)
    assert {"name", "description", "styles", "nll"} <= set(rows[1]) and len(rows[1]["styles"]) == 59
    assert main(["sample", "-n", "3", "--seed", "2"]) == 0  # no model: the shipped given-names, no training
    assert len(capsys.readouterr().out.split()) == 3


def test_a_missing_model_names_the_shipped_ones(capsys):
    assert main(["sample", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "given-names, world" in err and "Traceback" not in err


def test_the_build_commands_still_describe_the_shipped_files():
    """scripts/build_pretrained.py must reproduce the shipped files: every training option its command gives,
    merged into the presets as they are today, equals what the shipped checkpoint recorded. Catches a preset
    change (0.8.0: the default's --embed 64, --patience 4) that the build commands did not pin."""
    import runpy
    from dataclasses import fields

    from namesmith.cli import build_parser
    from namesmith.config import TrainConfig, resolve

    commands = runpy.run_path(str(ROOT / "scripts" / "build_pretrained.py"))["COMMANDS"]
    for name, command in commands.items():
        args = build_parser().parse_args([*command, "-o", "unused.npz"])
        explicit = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
        now = resolve(explicit).to_dict()
        stored = namesmith.load(name).meta.train.config
        skip = {"out", "corpus", "jobs"}  # where the file went, how the corpus was named, processes
        differ = {k: (stored[k], now[k]) for k in stored if k in now and k not in skip and stored[k] != now[k]}
        assert not differ, f"{name}: the build command now trains with {differ} (shipped, today)"


def test_world_takes_kind_and_sex_right_after_install(capsys):
    """Issue 27's commands print names with no training: a Japanese girl's name, a Polish surname."""
    ck = namesmith.load("world")
    assert ck.factors == {"kind": ["given", "surname"], "sex": ["female", "male", "unisex"]}
    assert main(["sample", "world", "--style", "Japanese", "--kind", "given", "--sex", "female", "-n", "5",
                 "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.split()) == 5
    russian = [s.name for s in ck.sample(40, style="Russian", kind="surname", sex="female", seed=2)]
    assert sum(n.endswith(("a", "aya")) for n in russian) >= 30  # Ivanova, not Ivanov
    [k] = ck.classify(["Kowalski"])
    assert k.style == "Polish" and next(iter(k.factors["kind"])) == "surname"
