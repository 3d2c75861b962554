"""Each option is declared once: the command line, the web API, OpenAPI and the page read the declaration.

A dummy option added to a subclass of SampleOptions (as a developer would add a
field) appears in every one of them with its help, default and limits, and a
value given through each arrives in the options the sampler gets. If any of
them kept its own list of options (as cli.py, app.py, index.html and app.js once
did), the dummy would be missing there and these tests would fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from namesmith.cli import add_declared, build_parser, declared
from namesmith.config import RESUME_FIXED, SPECS, TrainConfig
from namesmith.errors import ConfigError
from namesmith.options import option, schema, specs
from namesmith.sample import SampleOptions
from namesmith.web.app import request_model, sample_options

Dummy = dataclasses.make_dataclass(
    "DummyOptions",
    [("syllables", int | None, option(None, "at most this many vowel groups", lo=1, hi=9, label="Syllables",
                                      web={"hi": 5}, page={"default": 3}))],
    bases=(SampleOptions,), frozen=True)


def test_a_new_sampling_option_reaches_the_cli():
    p = argparse.ArgumentParser()
    add_declared(p, Dummy)
    assert "at most this many vowel groups" in p.format_help()
    args = p.parse_args(["--syllables", "4", "-n", "3"])
    opts = Dummy(**declared(args, Dummy))
    assert opts.syllables == 4 and opts.n == 3
    with pytest.raises(ConfigError, match=r"syllables must be in \[1, 9\]"):
        Dummy(**declared(p.parse_args(["--syllables", "12"]), Dummy))


def test_a_new_sampling_option_reaches_the_request_model_and_openapi():
    model = request_model(Dummy)
    prop = model.model_json_schema()["properties"]["syllables"]
    assert prop["description"] == "at most this many vowel groups"
    assert json.dumps(prop).count("5") >= 1  # the web's own upper limit, declared with the option
    assert sample_options(model(syllables=2), Dummy).syllables == 2
    with pytest.raises(Exception, match="syllables"):
        model(syllables=6)  # above the web's limit of 5 (the CLI allows 9)


def test_a_new_sampling_option_reaches_the_page_schema():
    row = next(r for r in schema(Dummy, "page") if r["name"] == "syllables")
    assert row["label"] == "Syllables" and row["default"] == 3 and row["max"] == 5 and row["optional"]
    assert row["kind"] == "int" and row["help"] == "at most this many vowel groups"


def test_every_sampling_option_is_in_every_surface():
    names = set(specs(SampleOptions))
    sample = build_parser()._subparsers._group_actions[0].choices["sample"]
    dests = {a.dest for a in sample._actions}
    assert names <= dests, names - dests
    assert names <= set(request_model().model_fields)
    assert names == {r["name"] for r in schema(SampleOptions, "page")}


def test_one_set_of_defaults():
    """The CLI with no flags and the web API with an empty body give the Python API's defaults; the page's
    differences are declared (page=) and only the page applies them."""
    sample = build_parser()._subparsers._group_actions[0].choices["sample"]
    assert SampleOptions(**declared(sample.parse_args([]), SampleOptions)) == SampleOptions()
    web = sample_options(request_model()())  # the web caps the candidate budget (a declared web limit)
    assert web == dataclasses.replace(SampleOptions(), max_tries=SampleOptions().budget)
    page = {r["name"]: r["default"] for r in schema(SampleOptions, "page")}
    declared_page = {n: s.page["default"] for n, (f, s) in specs(SampleOptions).items() if "default" in s.page}
    for name, (f, s) in specs(SampleOptions).items():
        assert page[name] == declared_page.get(name, f.default), name
    assert declared_page["novel"] is True and SampleOptions().novel is False


def test_every_training_option_has_a_flag_help_and_a_resume_rule():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {a.dest: a for a in train._actions}
    for name, (f, s) in SPECS.items():
        assert s.help, name
        if s.cli:
            assert name in flags and s.help in (flags[name].help or ""), name
    assert {"model", "hidden", "seed"} <= RESUME_FIXED and "steps" not in RESUME_FIXED
    # a model's own option (dropout, hidden...) is ranged by the model class that owns it, not a second time here
    assert SPECS["dropout"][1].lo is None and SPECS["dropout"][1].hi is None
    with pytest.raises(ConfigError, match=r"dropout must be a number in \[0.0, 0.95\]"):
        TrainConfig(dropout=1.0).validate()
    with pytest.raises(ConfigError, match=r"lr must be"):
        TrainConfig(lr=-1.0).validate()


def test_numpy_numbers_are_accepted_as_plain_numbers():
    """Found by benchmarks/fuzz.py: fit(batch_size=np.int64(3)) passed the checks and then failed to save the
    configuration as JSON (a traceback)."""
    import numpy as np

    from namesmith.config import resolve
    cfg = resolve({"batch_size": np.int64(3), "lr": np.float32(0.01), "model": "gru"})
    assert type(cfg.batch_size) is int and type(cfg.lr) is float
    json.dumps(cfg.to_dict())
